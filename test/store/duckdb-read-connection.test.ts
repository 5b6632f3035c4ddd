import { BIGINT, DuckDBInstance, VARCHAR } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { DuckDbReadConnection } from '../../src/store/duckdb-read-connection.js';

const instances: DuckDBInstance[] = [];

afterEach(() => {
  for (const instance of instances.splice(0)) instance.closeSync();
});

async function tableOf(rows: number): Promise<DuckDBInstance> {
  const instance = await DuckDBInstance.create(':memory:');
  instances.push(instance);
  const setup = await instance.connect();
  await setup.run(`CREATE TABLE t AS SELECT 'd-' || (i % 3) AS device, i AS n FROM range(${rows}) r(i)`);
  setup.closeSync();
  return instance;
}

describe('DuckDbReadConnection', () => {
  it('runs a statement it prepared before with new values, and sees rows committed since', async () => {
    const instance = await tableOf(30);
    const reader = await DuckDbReadConnection.open(instance);
    const statement = (device: string, above: number) => ({
      sql: 'SELECT n FROM t WHERE device = $1 AND n > $2 ORDER BY n',
      values: [device, BigInt(above)],
      types: [VARCHAR, BIGINT],
    });
    expect(await reader.rows(statement('d-1', 20))).toEqual([[22n], [25n], [28n]]);
    expect(await reader.rows(statement('d-2', 23))).toEqual([[26n], [29n]]);
    const writer = await instance.connect();
    await writer.run("INSERT INTO t VALUES ('d-2', 31)");
    writer.closeSync();
    expect(await reader.rows(statement('d-2', 23))).toEqual([[26n], [29n], [31n]]);
    reader.closeSync();
  });

  it('keeps answering right when more statements were asked than it keeps prepared', async () => {
    const instance = await tableOf(100);
    const reader = await DuckDbReadConnection.open(instance);
    // Forty shapes (one more placeholder each), asked twice in turn: the first ones were dropped in between.
    for (let round = 0; round < 2; round++) {
      for (let size = 1; size <= 40; size++) {
        const placeholders = Array.from({ length: size }, (_, i) => `$${i + 1}`).join(', ');
        const values = Array.from({ length: size }, (_, i) => BigInt(i * 2));
        const rows = await reader.rows({
          sql: `SELECT count(*) FROM t WHERE n IN (${placeholders})`,
          values,
          types: values.map(() => BIGINT),
        });
        expect(rows).toEqual([[BigInt(size)]]);
      }
    }
    reader.closeSync();
  });
});
