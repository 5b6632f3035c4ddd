/**
 * What DuckDB itself costs per value on the write paths tried for the embedded store (docs/STORAGE.md,
 * "Write paths measured"), straight on `@duckdb/node-api` without the adapter around it: CPU per value
 * for writes of `--points` values (default 5,000) into a file that already holds 200,000, each key new.
 *
 * - `appender-pk`: what DuckDbStore does: the appender into `readings` with its primary key
 *   (device, metric, ts), one flush (one commit) per write.
 * - `chunk-pk`: the same through whole data chunks (`appendDataChunk`) instead of a call per value.
 * - `appender-nopk`, `chunk-nopk`: the same table without the key (a resent reading would be stored twice).
 * - `series-id-pk`, `series-id-nopk`: an integer series id (device and metric looked up in a map
 *   beside) instead of the two strings, with and without the key (series id, ts).
 * - `staged-pk`: the appender into a keyless staging table, moved into `readings` with
 *   `INSERT OR IGNORE ... SELECT` every 50,000 values.
 *
 * One process per path, one after another (two DuckDB instances in one process disturb each other's
 * CPU figures); CPU is process.cpuUsage(), every thread, DuckDB's included.
 *
 *   npx tsx bench/duckdb-write-paths.ts [--points 5000] [--rounds 5] [--only appender-pk,chunk-pk]
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BIGINT,
  DOUBLE,
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  VARCHAR,
} from '@duckdb/node-api';
import { median } from './support/median.js';
import { batchMaker, type Point } from './support/value-batches.js';

const PATHS = [
  'appender-pk',
  'chunk-pk',
  'appender-nopk',
  'chunk-nopk',
  'series-id-pk',
  'series-id-nopk',
  'staged-pk',
] as const;
type WritePath = (typeof PATHS)[number];

const args = process.argv.slice(2);
function option(name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}
const points = Number(option('--points') ?? 5_000);
const rounds = Number(option('--rounds') ?? 5);
const PRELOAD = 200_000;
const STAGED_MERGE_EVERY = 50_000;
/** DuckDB's vector size: a data chunk holds at most this many rows. */
const CHUNK_ROWS = 2_048;

/** Opens the table of `path` and returns a function that writes and commits one batch. */
async function openPath(connection: DuckDBConnection, path: WritePath): Promise<(batch: Point[]) => Promise<void>> {
  const key = !path.endsWith('nopk');
  const seriesId = path.startsWith('series-id');
  await connection.run(
    seriesId
      ? `CREATE TABLE readings (sid INTEGER NOT NULL, ts BIGINT NOT NULL, value DOUBLE NOT NULL${key ? ', PRIMARY KEY (sid, ts)' : ''})`
      : `CREATE TABLE readings (device VARCHAR NOT NULL, metric VARCHAR NOT NULL, ts BIGINT NOT NULL, value DOUBLE NOT NULL${key ? ', PRIMARY KEY (device, metric, ts)' : ''})`,
  );
  if (path === 'staged-pk') {
    await connection.run('CREATE TABLE staging (device VARCHAR, metric VARCHAR, ts BIGINT, value DOUBLE)');
  }
  const appender = await connection.createAppender(path === 'staged-pk' ? 'staging' : 'readings');
  const ids = new Map<string, number>();
  const idOf = (point: Point): number => {
    const name = `${point.device}\u0000${point.metric}`;
    let id = ids.get(name);
    if (id === undefined) {
      id = ids.size + 1;
      ids.set(name, id);
    }
    return id;
  };
  let staged = 0;
  return async (batch) => {
    if (path.startsWith('chunk')) appendChunks(appender, batch);
    else if (seriesId) {
      for (const point of batch) {
        appender.appendInteger(idOf(point));
        appender.appendBigInt(BigInt(point.ts));
        appender.appendDouble(point.value);
        appender.endRow();
      }
    } else {
      for (const point of batch) {
        appender.appendVarchar(point.device);
        appender.appendVarchar(point.metric);
        appender.appendBigInt(BigInt(point.ts));
        appender.appendDouble(point.value);
        appender.endRow();
      }
    }
    appender.flushSync();
    if (path !== 'staged-pk') return;
    staged += batch.length;
    if (staged < STAGED_MERGE_EVERY) return;
    staged = 0;
    await connection.run('INSERT OR IGNORE INTO readings SELECT * FROM staging');
    await connection.run('DELETE FROM staging');
  };
}

function appendChunks(appender: DuckDBAppender, batch: readonly Point[]): void {
  for (let offset = 0; offset < batch.length; offset += CHUNK_ROWS) {
    const part = batch.slice(offset, offset + CHUNK_ROWS);
    const chunk = DuckDBDataChunk.create([VARCHAR, VARCHAR, BIGINT, DOUBLE], part.length);
    chunk.setColumns([
      part.map((p) => p.device),
      part.map((p) => p.metric),
      part.map((p) => BigInt(p.ts)),
      part.map((p) => p.value),
    ]);
    appender.appendDataChunk(chunk);
  }
}

/** Measures one path in this process; prints `path µs-per-value`. */
async function measure(path: WritePath): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'duckdb-write-paths-'));
  const instance = await DuckDBInstance.create(join(folder, 'bench.duckdb'), {
    threads: '1',
    checkpoint_threshold: '1TB',
  });
  const connection = await instance.connect();
  try {
    const write = await openPath(connection, path);
    const makeBatch = batchMaker();
    for (let done = 0; done < PRELOAD; done += 5_000) await write(makeBatch(5_000));
    const samples: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const batches = Array.from({ length: Math.max(4, Math.round(40_000 / points)) }, () => makeBatch(points));
      const start = process.cpuUsage();
      for (const batch of batches) await write(batch);
      const cpu = process.cpuUsage(start);
      samples.push((cpu.user + cpu.system) / (batches.length * points));
    }
    console.log(`${path} ${median(samples).toFixed(2)}`);
  } finally {
    connection.closeSync();
    instance.closeSync();
    await rm(folder, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const one = option('--path');
  if (one !== undefined) {
    if (!(PATHS as readonly string[]).includes(one)) throw new Error(`unknown path ${one}`);
    await measure(one as WritePath);
    return;
  }
  const only = option('--only')?.split(',') ?? PATHS;
  const rows: { path: string; cpuUsPerValue: number }[] = [];
  for (const path of PATHS.filter((p) => only.includes(p))) {
    const output = execFileSync(
      process.execPath,
      [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        '--path',
        path,
        '--points',
        String(points),
        '--rounds',
        String(rounds),
      ],
      { encoding: 'utf8' },
    );
    const last = output.trim().split('\n').at(-1) ?? '';
    rows.push({ path, cpuUsPerValue: Number(last.split(' ')[1]) });
  }
  console.log(`DuckDB write paths: CPU µs per value, ${points}-value writes, median of ${rounds} rounds`);
  console.table(rows);
}

await main();
