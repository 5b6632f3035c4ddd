import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_READINGS_TABLE, CREATE_STAGING_TABLE } from '../../src/store/duckdb-queries.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { DuckDbWriter } from '../../src/store/duckdb-writer.js';
import type { StoredPoint } from '../../src/store/telemetry-store.js';
import { pollUntil } from '../support/poll-until.js';
import { BASE, readingsQuery, uniqueDevice } from './store-fixtures.js';

let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'duckdb-writer-'));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** A writer on an in-memory database, and a way to read what it committed from another connection. */
async function openWriter(maxMergedPoints = 20_000) {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  await connection.run(CREATE_READINGS_TABLE);
  await connection.run(CREATE_STAGING_TABLE);
  const writer = new DuckDbWriter(connection, { maxMergedPoints, checkpointEveryPoints: 1_000_000 });
  const stored = async (): Promise<StoredPoint[]> => {
    const reader = await instance.connect();
    try {
      const rows = (
        await reader.runAndReadAll('SELECT device, metric, ts, value FROM readings ORDER BY ALL')
      ).getRows();
      return rows.map(([device, metric, ts, value]) => ({
        device: String(device),
        metric: String(metric),
        ts: Number(ts),
        value: Number(value),
      }));
    } finally {
      reader.closeSync();
    }
  };
  const close = (): void => {
    writer.closeSync();
    connection.closeSync();
    instance.closeSync();
  };
  return { writer, stored, close };
}

function point(ts: number, value: number, metric = 'temp'): StoredPoint {
  return { device: 'pump-1', metric, ts, value };
}

describe('DuckDbWriter', () => {
  it('settles each write of a merged commit only once its points can be read', async () => {
    const { writer, stored, close } = await openWriter();
    try {
      const seen: number[] = [];
      const writes = [0, 1, 2, 3].map((i) =>
        writer.write([point(BASE + i, i)]).then(async () => {
          seen.push((await stored()).filter((p) => p.ts === BASE + i).length);
        }),
      );
      await Promise.all(writes);
      expect(seen).toEqual([1, 1, 1, 1]);
    } finally {
      close();
    }
  });

  it('keeps the last value in call order when writes merged into one commit repeat a key', async () => {
    const { writer, stored, close } = await openWriter();
    try {
      await Promise.all([
        writer.write([point(BASE, 1), point(BASE + 1, 1)]),
        writer.write([point(BASE, 2)]),
        writer.write([point(BASE + 1, 3), point(BASE + 2, 3)]),
      ]);
      expect((await stored()).map((p) => [p.ts - BASE, p.value])).toEqual([
        [0, 2],
        [1, 3],
        [2, 3],
      ]);
    } finally {
      close();
    }
  });

  it('fails only the write that DuckDB refuses when writes were merged', async () => {
    const { writer, stored, close } = await openWriter();
    try {
      // A fractional time cannot be appended as BIGINT; the store's own checks keep such points out, the writer
      // must still keep one bad write from failing the writes merged with it.
      const results = await Promise.allSettled([
        writer.write([point(BASE, 1)]),
        writer.write([point(BASE + 0.5, 2)]),
        writer.write([point(BASE + 1, 3)]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((await stored()).map((p) => p.value)).toEqual([1, 3]);
      await writer.write([point(BASE + 2, 4)]);
      expect((await stored()).map((p) => p.value)).toEqual([1, 3, 4]);
    } finally {
      close();
    }
  });

  it('overwrites stored keys and adds new ones in one write', async () => {
    const { writer, stored, close } = await openWriter();
    try {
      await writer.write([point(BASE, 1), point(BASE, 1, 'rpm')]);
      await writer.write([point(BASE, 5), point(BASE + 1, 6)]);
      expect((await stored()).map((p) => [p.metric, p.ts - BASE, p.value])).toEqual([
        ['rpm', 0, 1],
        ['temp', 0, 5],
        ['temp', 1, 6],
      ]);
    } finally {
      close();
    }
  });

  it('commits writes beyond the merge limit in several commits, all stored', async () => {
    const { writer, stored, close } = await openWriter(3);
    try {
      const writes = Array.from({ length: 7 }, (_, i) =>
        writer.write([point(BASE + 2 * i, i), point(BASE + 2 * i + 1, i)]),
      );
      await Promise.all(writes);
      expect(await stored()).toHaveLength(14);
    } finally {
      close();
    }
  });
});

describe('DuckDbStore durability and checkpoints', () => {
  it.each([
    ['before DuckDB took any of them (all in the journal)', '{ flushEveryPoints: 1_000_000, flushAfterMs: 600_000 }'],
    ['while DuckDB took them seven at a time', '{ flushEveryPoints: 7 }'],
    ['when each write was as large as a flush, so DuckDB committed it at once', '{ flushEveryPoints: 1 }'],
  ])(
    'keeps every acknowledged write when the process is killed without closing, %s',
    async (_, options) => {
      const path = join(folder, `killed-${options.length}.duckdb`);
      const device = uniqueDevice('killed');
      const script = `
      import { DuckDbStore } from ${JSON.stringify(new URL('../../src/store/duckdb-store.ts', import.meta.url).pathname)};
      const store = await DuckDbStore.open({ path: ${JSON.stringify(path)}, ...${options} });
      for (let i = 0; i < 20; i++) {
        await store.write([{ device: ${JSON.stringify(device)}, ts: ${BASE} + i, values: { temp: i } }]);
        process.stdout.write('acked ' + i + '\\n');
      }
      setInterval(() => {}, 1000);
    `;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        await pollUntil(async () => output.includes('acked 19'), 'the child to acknowledge its writes', 30_000);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }

      const store = await DuckDbStore.open({ path });
      try {
        const page = await store.queryReadings(readingsQuery([device]));
        expect(page.items.map((p) => p.value)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      } finally {
        await store.close();
      }
    },
    40_000,
  );

  it('moves journaled values into DuckDB before a write once 50,000 wait, with no query or timer to do it', async () => {
    const path = join(folder, 'bounded.duckdb');
    const store = await DuckDbStore.open({ path, flushEveryPoints: 1_000_000, flushAfterMs: 600_000 });
    try {
      const device = uniqueDevice('bounded');
      const committed = async (): Promise<number> => (existsSync(`${path}.wal`) ? (await stat(`${path}.wal`)).size : 0);
      // DuckDB's log holds the schema only.
      const schemaOnly = await committed();
      // 51 writes of 999 values wait in the journal (50,949), under the bound when each was made.
      for (let write = 0; write < 51; write++) {
        await store.write(
          Array.from({ length: 999 }, (_, i) => ({ device, ts: BASE + write * 1_000 + i, values: { temp: i } })),
        );
      }
      expect(await committed()).toBe(schemaOnly);
      // The next write finds 50,000 or more waiting, and waits itself until DuckDB has them.
      await store.write([{ device, ts: BASE - 1, values: { temp: -1 } }]);
      expect(await committed()).toBeGreaterThan(schemaOnly + 50_000);
      expect((await store.queryReadings(readingsQuery([device], { limit: 100_000 }))).items).toHaveLength(50_950);
    } finally {
      await store.close();
    }
  });

  it('checkpoints the write-ahead log between writes once enough points were committed', async () => {
    const path = join(folder, 'checkpointed.duckdb');
    const store = await DuckDbStore.open({ path, checkpointEveryPoints: 1_000 });
    try {
      const device = uniqueDevice('checkpoint');
      const readings = Array.from({ length: 1_500 }, (_, i) => ({ device, ts: BASE + i, values: { temp: i } }));
      await store.write(readings);
      const walSize = async (): Promise<number> => (existsSync(`${path}.wal`) ? (await stat(`${path}.wal`)).size : 0);
      await pollUntil(async () => (await walSize()) === 0, 'the write-ahead log to be checkpointed', 10_000);
      await store.write([{ device, ts: BASE - 1, values: { temp: -1 } }]);
      // The query moves the journaled write into DuckDB first, into its write-ahead log.
      expect((await store.queryReadings(readingsQuery([device], { limit: 10_000 }))).items).toHaveLength(1_501);
      expect(await walSize()).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('closes after the checkpoint that follows the last write, keeping the data', async () => {
    const path = join(folder, 'checkpoint-on-close.duckdb');
    const device = uniqueDevice('checkpoint-close');
    const store = await DuckDbStore.open({ path, checkpointEveryPoints: 1 });
    await store.write([{ device, ts: BASE, values: { temp: 1 } }]);
    await store.close();

    const reopened = await DuckDbStore.open({ path });
    try {
      expect((await reopened.queryReadings(readingsQuery([device]))).items).toEqual([
        { device, metric: 'temp', ts: BASE, value: 1 },
      ]);
    } finally {
      await reopened.close();
    }
  });

  it('refuses a thread count or checkpoint interval that is not a positive integer', async () => {
    await expect(DuckDbStore.open({ path: ':memory:', threads: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(DuckDbStore.open({ path: ':memory:', checkpointEveryPoints: 1.5 })).rejects.toBeInstanceOf(RangeError);
  });
});
