import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');

/** The JSON array of the final stage's instruction, or undefined when it is in shell form (run through `sh -c`). */
function execForm(instruction: string): unknown {
  const lines = dockerfile.split('\n').filter((line) => line.startsWith(`${instruction} `));
  const last = lines.at(-1)?.slice(instruction.length + 1) ?? '';
  try {
    return JSON.parse(last);
  } catch {
    return undefined;
  }
}

describe('the Docker image', () => {
  it('runs node itself as PID 1 in exec form, so docker stop’s SIGTERM reaches the node and drains it', () => {
    const entrypoint = execForm('ENTRYPOINT');
    expect(entrypoint).toEqual(['node', 'dist/cli/bin.js']);
    expect(execForm('CMD')).toEqual(['serve']);
  });
});
