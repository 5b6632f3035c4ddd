import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../src/protocol/message.js';
import { decodeCursor, encodeCursor } from '../../src/store/cursor.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import type { ReadingsQuery } from '../../src/store/telemetry-store.js';
import { describeStoreContract } from './store-contract.js';
import { allPages, BASE, pointsOf, readingsQuery, uniqueDevice, windowedQuery } from './store-fixtures.js';

let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'duckdb-store-'));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describeStoreContract('DuckDbStore', async () => ({
  store: await DuckDbStore.open({ path: join(folder, 'contract.duckdb') }),
}));

describe('DuckDbStore on its own', () => {
  let serial = 0;
  function freshPath(): string {
    serial += 1;
    return join(folder, `own-${serial}.duckdb`);
  }

  it('keeps written data across close and reopen of the same file', async () => {
    const path = freshPath();
    const device = uniqueDevice('durable');
    const readings: Reading[] = [
      { device, ts: BASE, values: { temp: 21.5, rpm: 900 } },
      { device, ts: BASE + 1, values: { temp: -0.25 } },
    ];
    const first = await DuckDbStore.open({ path });
    await first.write(readings);
    await first.close();

    const second = await DuckDbStore.open({ path });
    try {
      expect((await second.queryReadings(readingsQuery([device]))).items).toEqual(pointsOf(readings));
      expect(await second.listSeries()).toEqual([
        { device, metric: 'rpm', lastSeen: BASE },
        { device, metric: 'temp', lastSeen: BASE + 1 },
      ]);
    } finally {
      await second.close();
    }
  });

  it('answers the newest values from memory that agree with the file, before and after a reopen, as writes go on', async () => {
    const path = freshPath();
    const devices = [uniqueDevice('mem-a'), uniqueDevice('mem-b'), uniqueDevice('mem-c')];
    // Times that collide within and across writes, so rewrites and older times are common.
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 48_271) % 2_147_483_647;
      return seed % n;
    };
    const batch = (): Reading[] =>
      Array.from({ length: 40 }, () => ({
        device: devices[random(3)] as string,
        ts: BASE + random(25) * 1_000,
        values: { [['temp', 'rpm', 'volts'][random(3)] as string]: random(1_000) },
      }));
    const newestRead = async (store: DuckDbStore) => {
      const points = (await store.queryReadings(readingsQuery(devices))).items;
      return points.filter((p, i) => points[i + 1]?.device !== p.device || points[i + 1]?.metric !== p.metric);
    };
    const first = await DuckDbStore.open({ path });
    for (let i = 0; i < 5; i++) await first.write(batch());
    expect(await first.queryLatest({})).toEqual(await newestRead(first));
    await Promise.all([first.write(batch()), first.write(batch())]);
    expect(await first.queryLatest({})).toEqual(await newestRead(first));
    await first.close();

    const second = await DuckDbStore.open({ path });
    try {
      await second.write(batch());
      expect(await second.queryLatest({})).toEqual(await newestRead(second));
      for (let i = 0; i < 3; i++) await second.write(batch());
      expect(await second.queryLatest({})).toEqual(await newestRead(second));
      expect(await second.listSeries()).toEqual(
        (await newestRead(second)).map(({ device, metric, ts }) => ({ device, metric, lastSeen: ts })),
      );
    } finally {
      await second.close();
    }
  });

  it("keeps a write committed while it first reads the file's series", async () => {
    const path = freshPath();
    const device = uniqueDevice('seeding');
    const before = await DuckDbStore.open({ path });
    await before.write(Array.from({ length: 2_000 }, (_, i) => ({ device, ts: BASE + i, values: { temp: i } })));
    await before.close();
    const store = await DuckDbStore.open({ path });
    try {
      // The first question starts the scan; writes committed meanwhile land on either side of it.
      const asked = store.queryLatest({});
      const written = Promise.all([
        store.write([{ device, ts: BASE + 5_000, values: { temp: -1 } }]),
        store.write([{ device, ts: BASE + 1, values: { rpm: 7 } }]),
      ]);
      await Promise.all([asked, written]);
      expect(await store.queryLatest({})).toEqual([
        { device, metric: 'rpm', ts: BASE + 1, value: 7 },
        { device, metric: 'temp', ts: BASE + 5_000, value: -1 },
      ]);
    } finally {
      await store.close();
    }
  });

  it('plans a page from what the last one counted, and trusts the plan only as far as it reads', async () => {
    const store = await DuckDbStore.open({ path: ':memory:' });
    try {
      const [a, b, c, outside] = ['long-a', 'long-b', 'long-c', 'long-z'].map(uniqueDevice) as [
        string,
        string,
        string,
        string,
      ];
      const readings = [a, b, c, outside].flatMap((device) =>
        Array.from({ length: 100 }, (_, i) => ({ device, ts: BASE + i * 1_000, values: { temp: i, rpm: -i } })),
      );
      await store.write(readings);
      const expected = pointsOf(readings).filter((point) => point.device !== outside);
      const leftOf = (cursor: string | undefined, query: ReadingsQuery) =>
        decodeCursor(query, cursor as string).ahead?.map((series) => series.points);
      // Pages within a long series: each says how much of it is left, then what the next series hold.
      const within = readingsQuery([a, b, c], { limit: 30 });
      const first = await store.queryReadings(within);
      expect(leftOf(first.nextCursor, within)).toEqual([70, 100, 100, 100, 100, 100]);
      const second = await store.queryReadings({ ...within, cursor: first.nextCursor });
      expect(leftOf(second.nextCursor, within)).toEqual([40, 100, 100, 100, 100, 100]);
      // Pages across several short series: planned from the counts, and counted again when the plan runs out.
      const across = readingsQuery([a, b, c], { limit: 250 });
      const acrossFirst = await store.queryReadings(across);
      expect(leftOf(acrossFirst.nextCursor, across)).toEqual([50, 100, 100, 100]);
      const acrossSecond = await store.queryReadings({ ...across, cursor: acrossFirst.nextCursor });
      // It ends with the last point of (c, rpm): nothing left of it, then (c, temp), which is less than a page.
      expect(leftOf(acrossSecond.nextCursor, across)).toEqual([0, 100]);
      for (const query of [within, across, readingsQuery([a, b, c], { limit: 99 })]) {
        expect((await allPages((cursor) => store.queryReadings({ ...query, cursor }))).flat()).toEqual(expected);
      }
      // A cursor that promises more than there is, or names a device the question does not select, reads as
      // the keyset order says, within the question.
      const key = { device: a, metric: 'temp', ts: BASE + 95_000 };
      const promised = [
        { ...key, points: 1_000 },
        { device: b, metric: 'rpm', points: 1_000 },
      ];
      const tooMuch = await store.queryReadings({ ...within, cursor: encodeCursor(within, key, promised) });
      expect(tooMuch.items).toEqual(expected.slice(200 - 4, 200 + 26));
      // Its own series held 4, not 1,000: the page was counted, and its cursor says what the count found.
      expect(leftOf(tooMuch.nextCursor, within)).toEqual([74, 100, 100, 100]);
      const planned = [{ ...key, points: 2 }, ...promised.slice(1)];
      const fromPlan = await store.queryReadings({ ...within, cursor: encodeCursor(within, key, planned) });
      expect(fromPlan.items).toEqual(expected.slice(200 - 4, 200 + 26));
      // Read as planned (more than a page came back), so the next cursor carries the plan's own count on.
      expect(leftOf(fromPlan.nextCursor, within)).toEqual([974]);
      const elsewhere = { device: outside, metric: 'rpm', ts: BASE - 1 };
      const forged = encodeCursor(within, elsewhere, [{ ...elsewhere, points: 1_000 }]);
      expect((await store.queryReadings({ ...within, cursor: forged })).items).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('serialises concurrent writes, in call order and without failing', async () => {
    const store = await DuckDbStore.open({ path: freshPath() });
    try {
      const device = uniqueDevice('concurrent');
      const batches = Array.from({ length: 20 }, (_, batch) =>
        Array.from({ length: 250 }, (_, i) => ({
          device,
          ts: BASE + i,
          values: { shared: batch, [`own${batch}`]: i },
        })),
      );
      const reads = Array.from({ length: 5 }, () => store.queryLatest({ devicePrefix: device }));
      await Promise.all([...batches.map((batch) => store.write(batch)), ...reads]);

      const latest = await store.queryLatest({ devicePrefix: device, metrics: ['shared'] });
      expect(latest).toEqual([{ device, metric: 'shared', ts: BASE + 249, value: 19 }]);
      const page = await store.queryReadings(readingsQuery([device], { metrics: ['shared'] }));
      expect(page.items.map((p) => p.value)).toEqual(Array(250).fill(19));
      const series = await store.listSeries();
      expect(series).toHaveLength(21);
    } finally {
      await store.close();
    }
  });

  it('writes nothing of a batch that holds a non-integer time or a non-finite value', async () => {
    const store = await DuckDbStore.open({ path: ':memory:' });
    try {
      const device = uniqueDevice('rejected');
      const good = { device, ts: BASE, values: { temp: 1 } };
      await expect(store.write([good, { device, ts: BASE + 0.5, values: { temp: 2 } }])).rejects.toMatchObject({
        code: 'ERR_STORE_REJECTED',
      });
      await expect(store.write([good, { device, ts: BASE + 1, values: { temp: Number.NaN } }])).rejects.toMatchObject({
        code: 'ERR_STORE_REJECTED',
      });
      expect(await store.listSeries()).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('rejects every operation after close with ERR_STORE_UNAVAILABLE', async () => {
    const store = await DuckDbStore.open({ path: freshPath() });
    const device = uniqueDevice('closed');
    await store.write([{ device, ts: BASE, values: { temp: 1 } }]);
    await store.close();
    await store.close();

    const unavailable = { name: 'TelemetryError', code: 'ERR_STORE_UNAVAILABLE' };
    await expect(store.write([{ device, ts: BASE + 1, values: { temp: 2 } }])).rejects.toMatchObject(unavailable);
    await expect(store.write([])).rejects.toMatchObject(unavailable);
    await expect(store.queryReadings(readingsQuery([device]))).rejects.toMatchObject(unavailable);
    await expect(store.queryWindows(windowedQuery([device], 60_000, 'mean'))).rejects.toMatchObject(unavailable);
    await expect(store.queryLatest({})).rejects.toMatchObject(unavailable);
    await expect(store.listSeries()).rejects.toMatchObject(unavailable);
    await expect(store.ping()).rejects.toMatchObject(unavailable);
  });

  it('lets a write started before close finish before the file is released', async () => {
    const path = freshPath();
    const store = await DuckDbStore.open({ path });
    const device = uniqueDevice('draining');
    const written = store.write([{ device, ts: BASE, values: { temp: 1 } }]);
    await store.close();
    await expect(written).resolves.toBeUndefined();

    const reopened = await DuckDbStore.open({ path });
    try {
      await expect(reopened.ping()).resolves.toBeUndefined();
      expect(await reopened.queryLatest({ devicePrefix: device })).toEqual([
        { device, metric: 'temp', ts: BASE, value: 1 },
      ]);
    } finally {
      await reopened.close();
    }
  });

  it('fails to open a file in a missing folder with ERR_STORE_UNAVAILABLE', async () => {
    await expect(DuckDbStore.open({ path: join(folder, 'missing', 'x.duckdb') })).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
    });
  });

  it('caps the page size at 100,000 and rejects a limit that is not a positive integer', async () => {
    const store = await DuckDbStore.open({ path: ':memory:' });
    try {
      const device = uniqueDevice('cap');
      const readings = Array.from({ length: 100_001 }, (_, i) => ({ device, ts: BASE + i, values: { temp: i } }));
      await store.write(readings);
      const page = await store.queryReadings(readingsQuery([device], { limit: 500_000 }));
      expect(page.items).toHaveLength(100_000);
      expect(page.items.at(-1)).toEqual({ device, metric: 'temp', ts: BASE + 99_999, value: 99_999 });
      expect(page.nextCursor).toBeDefined();
      await expect(store.queryReadings(readingsQuery([device], { limit: 0 }))).rejects.toBeInstanceOf(RangeError);
    } finally {
      await store.close();
    }
  });
});
