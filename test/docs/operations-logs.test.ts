import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Every .ts file under `folder`, recursively. */
function sources(folder: string): string[] {
  return readdirSync(join(root, folder), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The `msg` of every log call in the node's code: `log.warn({ ... }, 'the message')`. */
function logMessages(): string[] {
  const fields = String.raw`(?:\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|[A-Za-z_$][\w$]*)`;
  const call = new RegExp(
    String.raw`\.(?:debug|info|warn|error)(?:\?\.)?\(\s*${fields}\s*,\s*'([^']+)'\s*,?\s*\)`,
    'g',
  );
  const found = new Set<string>();
  for (const file of [...sources('ingest'), ...sources('src')]) {
    for (const match of readFileSync(file, 'utf8').matchAll(call)) if (match[1] !== undefined) found.add(match[1]);
  }
  return [...found].sort();
}

describe('docs/OPERATIONS.md', () => {
  it('lists every log message the node writes, with its level and fields', () => {
    const doc = readFileSync(join(root, 'docs/OPERATIONS.md'), 'utf8');
    const logs = doc.slice(doc.indexOf('## Logs'), doc.indexOf('\n## ', doc.indexOf('## Logs') + 1));
    const messages = logMessages();
    expect(messages).toContain('store unreachable');
    expect(messages).toContain('key source refresh failed again');
    expect(messages.filter((msg) => !logs.includes(`\`${msg}\``))).toEqual([]);
  });
});
