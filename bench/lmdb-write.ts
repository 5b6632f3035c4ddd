/**
 * What another embedded engine costs per value for the write the embedded store needs (docs/STORAGE.md,
 * "Write paths measured"): LMDB through `lmdb` (lmdb-js, prebuilt binaries on npm), one key per value
 * (device, metric, ts) so that a resent reading overwrites itself, each write one transaction committed
 * with fsync before it returns, as DuckDB's writes are. Writes of `--points` values (default: 5,000, then
 * 2, a one-reading message) into a file that already holds 200,000 values, every key new; CPU of every
 * thread of the process per value, median of `--rounds` rounds. Then the same batch is written again and the
 * number of stored values must not change.
 *
 *   npx tsx bench/lmdb-write.ts [--points 5000,2] [--rounds 5]
 *
 * Compare with `npx tsx bench/duckdb-write-paths.ts --only appender-pk --points N` in the same session.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { median } from './support/median.js';
import { batchMaker, type Point } from './support/value-batches.js';

const args = process.argv.slice(2);
function option(name: string): string | undefined {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
}
const sizes = (option('--points') ?? '5000,2').split(',').map(Number);
const rounds = Number(option('--rounds') ?? 5);
const PRELOAD = 200_000;

/** device NUL metric NUL ts (8 bytes big-endian): keys sort by series, then time, so a range read is a series. */
function keyOf(point: Point): Buffer {
  const key = Buffer.allocUnsafe(point.device.length + point.metric.length + 10);
  let offset = key.write(point.device, 0, 'latin1');
  key[offset++] = 0;
  offset += key.write(point.metric, offset, 'latin1');
  key[offset++] = 0;
  key.writeUInt16BE(0, offset);
  key.writeUIntBE(point.ts, offset + 2, 6);
  return key;
}

function valueBytes(point: Point): Buffer {
  const value = Buffer.allocUnsafe(8);
  value.writeDoubleLE(point.value);
  return value;
}

async function main(): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'lmdb-write-'));
  const db = open({ path: join(folder, 'bench.lmdb'), keyEncoding: 'binary', encoding: 'binary', compression: false });
  const write = (batch: readonly Point[]): void =>
    db.transactionSync(() => {
      for (const point of batch) db.putSync(keyOf(point), valueBytes(point));
    });
  try {
    const makeBatch = batchMaker();
    for (let done = 0; done < PRELOAD; done += 5_000) write(makeBatch(5_000));
    const rows: { points: number; cpuUsPerValue: number }[] = [];
    for (const points of sizes) {
      const samples: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const batches = Array.from({ length: Math.max(4, Math.round(40_000 / points)) }, () => makeBatch(points));
        const start = process.cpuUsage();
        for (const batch of batches) write(batch);
        const cpu = process.cpuUsage(start);
        samples.push((cpu.user + cpu.system) / (batches.length * points));
      }
      rows.push({ points, cpuUsPerValue: Number(median(samples).toFixed(2)) });
    }
    const again = makeBatch(1_000);
    write(again);
    const stored = db.getCount();
    write(again);
    if (db.getCount() !== stored) throw new Error('a batch written twice was stored twice');
    console.log(
      `LMDB (lmdb-js) keyed writes: CPU µs per value, median of ${rounds} rounds; a resent batch stored once`,
    );
    console.table(rows);
  } finally {
    await db.close();
    await rm(folder, { recursive: true, force: true });
  }
}

await main();
