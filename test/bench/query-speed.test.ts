import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseResult } from '../../bench/support/bench-result.js';

const run = promisify(execFile);

describe('the query bench section', () => {
  it('loads a history through the ingest path and asks each question of the API and of the store, with equal counts', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'bench/query-speed.ts', '--quick', '--stores', 'duckdb', '--devices', '2', '--hours', '1'],
      { timeout: 120_000 },
    );
    const result = parseResult(stdout);
    const rows = result?.rows as { question: string; items: number; apiMs: number; directMs: number }[];
    expect(rows.map((row) => row.question)).toHaveLength(5);
    // 2 devices × 3 metrics × 360 readings an hour.
    expect(rows.find((row) => row.question.startsWith('bulk, 2 devices × 3 metrics'))?.items).toBe(2_160);
    expect(rows.every((row) => row.apiMs > 0 && row.directMs > 0)).toBe(true);
  }, 180_000);
});
