/**
 * CPU per DuckDbStore.write for batches of 1, 36, 500 and 5,000 points (writes under 1,000 points go to the
 * store's write journal and are committed by DuckDB 1,000 at a time, docs/STORAGE.md), into a
 * file-backed store that already holds some data (the primary-key index is not
 * empty), with every point a new key, as the ingest node writes them.
 *
 * CPU is process.cpuUsage(): every thread of the process, DuckDB's included.
 * `--module <path>` measures the DuckDbStore exported by another module (e.g. a
 * copy of the previous duckdb-store.ts) instead of src/'s. Run one process per
 * implementation, alternately: two DuckDB instances in one process disturb each
 * other's CPU figures (the idle one's threads are counted in the other's).
 *
 *   npx tsx bench/duckdb-write.ts [--module /path/to/duckdb-store.ts] [--rounds 5] [--concurrent 4] [--json]
 *
 * `--concurrent n` keeps n writes in flight at once (as the batch writer does)
 * instead of awaiting each before the next.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reading } from '../src/protocol/message.js';
import { DuckDbStore } from '../src/store/duckdb-store.js';
import type { TelemetryStore } from '../src/store/telemetry-store.js';
import { median } from './support/median.js';

interface StoreOpener {
  open(options: { path: string }): Promise<TelemetryStore>;
}

const args = process.argv.slice(2);
function option(name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}
const otherModule = option('--module');
const rounds = Number(option('--rounds') ?? 5);
const concurrent = Number(option('--concurrent') ?? 1);
const json = args.includes('--json');

/** Points per write, and how many writes of that size make one measurement. */
const SIZES: readonly { points: number; writes: number }[] = [
  { points: 1, writes: 400 },
  { points: 36, writes: 200 },
  { points: 500, writes: 40 },
  { points: 5_000, writes: 8 },
];
const DEVICES = 200;
const PRELOAD_POINTS = 200_000;

/** Makes batches of `points` values, two metrics per reading, each key new. */
function batchMaker(): (points: number) => Reading[] {
  let ts = 1_790_000_000_000;
  let device = 0;
  return (points) => {
    const readings: Reading[] = [];
    for (let i = 0; i < points; i += 2) {
      device = (device + 1) % DEVICES;
      const values: Record<string, number> = { temperature: 20 + (i % 7) * 0.25 };
      if (i + 1 < points) values.humidity = 40 + (i % 11) * 0.5;
      readings.push({ device: `bench-device-${device}`, ts: ts++, values });
    }
    return readings;
  };
}

async function cpuPerWrite(store: TelemetryStore, batches: readonly Reading[][]): Promise<number> {
  const start = process.cpuUsage();
  if (concurrent <= 1) {
    for (const batch of batches) await store.write(batch);
  } else {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < batches.length) {
        const batch = batches[next++] as Reading[];
        await store.write(batch);
      }
    };
    await Promise.all(Array.from({ length: concurrent }, lane));
  }
  const cpu = process.cpuUsage(start);
  return (cpu.user + cpu.system) / batches.length;
}

async function main(): Promise<void> {
  let opener: StoreOpener = DuckDbStore;
  if (otherModule !== undefined) {
    const loaded: unknown = await import(otherModule);
    const other = (loaded as { DuckDbStore?: StoreOpener }).DuckDbStore;
    if (other === undefined) throw new Error(`${otherModule} exports no DuckDbStore`);
    opener = other;
  }
  const name = otherModule ?? 'src/store/duckdb-store.ts';
  const folder = await mkdtemp(join(tmpdir(), 'duckdb-write-bench-'));
  try {
    const makeBatch = batchMaker();
    const store = await opener.open({ path: join(folder, 'bench.duckdb') });
    for (let done = 0; done < PRELOAD_POINTS; done += 5_000) await store.write(makeBatch(5_000));
    const samples = new Map<number, number[]>();
    for (let round = 0; round < rounds; round++) {
      for (const { points, writes } of SIZES) {
        const batches = Array.from({ length: writes }, () => makeBatch(points));
        samples.set(points, [...(samples.get(points) ?? []), await cpuPerWrite(store, batches)]);
      }
    }
    await store.close();
    const rows = SIZES.map(({ points }) => {
      const us = median(samples.get(points) ?? []);
      return { points, cpuUsPerWrite: Math.round(us), cpuUsPerPoint: Math.round((us / points) * 100) / 100 };
    });
    console.log(
      `${name}: DuckDbStore.write, CPU µs per write (all threads), median of ${rounds} rounds, ${concurrent} in flight`,
    );
    console.table(rows);
    if (json) console.log(`BENCH_RESULT ${JSON.stringify({ module: name, concurrent, rounds, rows })}`);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

await main();
