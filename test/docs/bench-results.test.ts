import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);

describe('bench/results', () => {
  it('keeps only the latest results and the runs docs/PERFORMANCE.md cites', () => {
    const committed = execFileSync('git', ['ls-files', 'bench/results'], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((path) => path !== '')
      .map((path) => path.slice('bench/results/'.length));
    const performance = readFileSync(new URL('docs/PERFORMANCE.md', root), 'utf8');
    const stray = committed.filter(
      (name) => !name.startsWith('latest.') && name !== '.gitignore' && !performance.includes(name),
    );
    expect(stray).toEqual([]);
  });
});
