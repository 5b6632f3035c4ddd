import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { CREATE_READINGS_TABLE, readingsStatement } from '../../src/store/duckdb-queries.js';
import type { ReadingsQuery } from '../../src/store/telemetry-store.js';

const oneSeries: ReadingsQuery = {
  devices: ['pump-1'],
  metrics: ['temp'],
  range: { start: 0, end: 1_000_000 },
  limit: 1_000,
};

describe('the DuckDB statement for a page of raw readings', () => {
  it('reads one series after a cursor by time alone, so the cursor bounds the scan', () => {
    const { sql, values } = readingsStatement(oneSeries, { device: 'pump-1', metric: 'temp', ts: 500 }, 1_001);
    expect(sql).toMatch(/\bts > \$\d+/);
    expect(sql).toMatch(/ORDER BY ts\s+LIMIT/);
    expect(values).toContain(500n);
  });

  it('keeps the (device, metric, ts) comparison for a cursor that names another series, or several series', () => {
    const forged = readingsStatement(oneSeries, { device: 'pump-0', metric: 'temp', ts: 500 }, 1_001);
    expect(forged.sql).toContain('(device, metric, ts) >');
    expect(forged.sql).toContain('ORDER BY device, metric, ts');
    const several = readingsStatement(
      { ...oneSeries, metrics: undefined },
      { device: 'pump-1', metric: 'temp', ts: 5 },
      9,
    );
    expect(several.sql).toContain('(device, metric, ts) >');
    expect(several.sql).toContain('ORDER BY device, metric, ts');
  });

  it('lets DuckDB pass the page bound to the scan as a dynamic filter on ts', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      await connection.run(CREATE_READINGS_TABLE);
      await connection.run(
        "INSERT INTO readings SELECT 'pump-1', 'temp', t * 10, t FROM range(0, 5000) r(t) ORDER BY t",
      );
      const { sql, values, types } = readingsStatement(oneSeries, { device: 'pump-1', metric: 'temp', ts: 500 }, 11);
      const plan = await connection.runAndReadAll(`EXPLAIN (FORMAT json) ${sql}`, values, types);
      // Sorted by (device, metric, ts), the filter would be on device, which every row of the series shares.
      expect(String(plan.getRows()[0]?.[1])).toContain('Dynamic Filter (ts)');
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});
