/** One stored value, as the embedded-engine write benchmarks write it. */
export interface Point {
  readonly device: string;
  readonly metric: string;
  readonly ts: number;
  readonly value: number;
}

/**
 * Batches of `n` values, two metrics per reading, 200 devices, every key new: the same batches for every engine
 * and write path measured (bench/duckdb-write-paths.ts, bench/lmdb-write.ts), so their figures compare.
 */
export function batchMaker(): (n: number) => Point[] {
  let ts = 1_790_000_000_000;
  let device = 0;
  return (n) => {
    const batch: Point[] = [];
    for (let i = 0; i < n; i += 2) {
      device = (device + 1) % 200;
      const name = `bench-device-${device}`;
      batch.push({ device: name, metric: 'temperature', ts, value: 20 + (i % 7) * 0.25 });
      if (i + 1 < n) batch.push({ device: name, metric: 'humidity', ts, value: 40 + (i % 11) * 0.5 });
      ts++;
    }
    return batch;
  };
}
