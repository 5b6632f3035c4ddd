import { beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../src/protocol/message.js';
import { encodeCursor } from '../../src/store/cursor.js';
import type { Aggregate, StoredPoint, TelemetryStore } from '../../src/store/telemetry-store.js';
import {
  AROUND_BASE,
  allPages,
  BASE,
  expectedWindows,
  pointsOf,
  RUN,
  readingsQuery,
  uniqueDevice,
  windowedQuery,
} from './store-fixtures.js';

const AGGREGATES: readonly Aggregate[] = ['mean', 'min', 'max', 'sum', 'count', 'last'];

/**
 * The queries part of the store contract (see describeStoreContract): readings by device, metric and range,
 * windowed aggregates, the latest values, the series list, and paging with cursors. `opened` gives the store,
 * which describeStoreContract opens before these tests.
 */
export function describeQueryContract(opened: () => TelemetryStore): void {
  let store: TelemetryStore;

  beforeAll(() => {
    store = opened();
  });

  async function readBack(devices: readonly string[]): Promise<readonly StoredPoint[]> {
    return (await store.queryReadings(readingsQuery(devices))).items;
  }

  it('returns several devices and metrics in one query, ordered by device, metric and time', async () => {
    const [first, second] = [uniqueDevice('multi-a'), uniqueDevice('multi-b')];
    const readings: Reading[] = [
      { device: second, ts: BASE + 20, values: { temp: 4, rpm: 40 } },
      { device: first, ts: BASE + 20, values: { temp: 2 } },
      { device: second, ts: BASE + 10, values: { temp: 3 } },
      { device: first, ts: BASE + 10, values: { temp: 1, rpm: 10 } },
    ];
    await store.write(readings);
    expect(await readBack([second, first])).toEqual(pointsOf(readings));
  });

  it('returns only the requested metrics', async () => {
    const device = uniqueDevice('metrics');
    await store.write([{ device, ts: BASE, values: { temp: 1, rpm: 2, volts: 3 } }]);
    const page = await store.queryReadings(readingsQuery([device], { metrics: ['volts', 'temp'] }));
    expect(page.items).toEqual([
      { device, metric: 'temp', ts: BASE, value: 1 },
      { device, metric: 'volts', ts: BASE, value: 3 },
    ]);
  });

  it('includes the start of the range and excludes its end', async () => {
    const device = uniqueDevice('range');
    const [start, end] = [BASE + 1_000, BASE + 2_000];
    await store.write([start - 1, start, end - 1, end].map((ts) => ({ device, ts, values: { temp: ts - BASE } })));
    const page = await store.queryReadings(readingsQuery([device], { range: { start, end } }));
    expect(page.items).toEqual([
      { device, metric: 'temp', ts: start, value: 1_000 },
      { device, metric: 'temp', ts: end - 1, value: 1_999 },
    ]);
  });

  describe('aggregates windows aligned to the epoch', () => {
    const windowMs = 60_000;
    // Starts mid-window, so the first window's start lies before the range.
    const range = { start: BASE - 30_000, end: BASE + 4 * windowMs };
    const offsets = [-40_000, -20_000, 0, 1_000, 59_999, 60_000, 61_500, 180_000, 239_999, 240_000];
    const values = [100, 3.25, -1.5, 10, 7, 7.25, -4, 2_000_000.5, 0.1, 55];

    it.each(AGGREGATES)('computes %s per window', async (aggregate) => {
      const device = uniqueDevice(`win-${aggregate}`);
      const readings = offsets.map((offset, i) => ({
        device,
        ts: BASE + offset,
        values: { temp: values[i] ?? 0, rpm: i * 10 },
      }));
      await store.write(readings);
      const page = await store.queryWindows(windowedQuery([device], windowMs, aggregate, { range }));
      const expected = expectedWindows(pointsOf(readings), range, windowMs, aggregate);
      expect(expected.map((w) => w.ts)).toContain(BASE - windowMs);
      expect(page.items).toEqual(
        aggregate === 'mean' || aggregate === 'sum'
          ? expected.map((w) => ({ ...w, value: expect.closeTo(w.value, 6) }))
          : expected,
      );
    });
  });

  describe('cuts windows at the edges of the range, for any window length', () => {
    // Points on and around window edges; ranges that start and end inside windows, one inside a single window, and
    // window lengths from a millisecond (millions of windows in range) to a day.
    const offsets = [-3_601_000, -1, 0, 1, 999, 1_000, 1_001, 29_999, 30_000, 59_999, 60_000, 3_599_999, 3_600_000];
    const cases: readonly [string, number, { start: number; end: number }][] = [
      ['1 ms windows over the whole range', 1, AROUND_BASE],
      ['1 s windows, more than one request of steps', 1_000, AROUND_BASE],
      ['1 min windows cut at both ends', 60_000, { start: BASE + 1, end: BASE + 3_599_999 }],
      ['7 s windows not dividing the hour', 7_000, { start: BASE - 1, end: BASE + 60_001 }],
      ['a range inside one window', 60_000, { start: BASE + 1, end: BASE + 30_000 }],
      ['a day window around the range', 86_400_000, AROUND_BASE],
    ];
    it.each(cases)('%s', async (_label, windowMs, range) => {
      const device = uniqueDevice(`edge-${windowMs}`);
      const readings = offsets.map((offset, i) => ({ device, ts: BASE + offset, values: { temp: i * 1.5 - 4 } }));
      await store.write(readings);
      for (const aggregate of AGGREGATES) {
        const page = await store.queryWindows(windowedQuery([device], windowMs, aggregate, { range }));
        const expected = expectedWindows(pointsOf(readings), range, windowMs, aggregate);
        expect(page.items, aggregate).toEqual(
          aggregate === 'mean' ? expected.map((w) => ({ ...w, value: expect.closeTo(w.value, 9) })) : expected,
        );
      }
    });

    const aligned: readonly [string, number, number][] = [
      ['day windows aligned to midnight at UTC+1', 86_400_000, -3_600_000],
      ['half-hour windows aligned to UTC+5:45', 1_800_000, 20_700_000],
      ['7 s windows aligned 1,234 ms after the epoch', 7_000, 1_234],
    ];
    it.each(aligned)('%s', async (_label, windowMs, originMs) => {
      const device = uniqueDevice(`origin-${windowMs}`);
      const readings = offsets.map((offset, i) => ({ device, ts: BASE + offset, values: { temp: i * 0.5 } }));
      await store.write(readings);
      const range = { start: BASE - 2_000, end: BASE + 3_599_000 };
      for (const aggregate of AGGREGATES) {
        const page = await store.queryWindows(windowedQuery([device], windowMs, aggregate, { range, originMs }));
        const expected = expectedWindows(pointsOf(readings), range, windowMs, aggregate, originMs);
        expect(page.items, aggregate).toEqual(
          aggregate === 'mean' ? expected.map((w) => ({ ...w, value: expect.closeTo(w.value, 9) })) : expected,
        );
      }
    });

    it('resumes windows from a cursor in the middle of a series', async () => {
      const device = uniqueDevice('edge-cursor');
      const readings = offsets.map((offset, i) => ({ device, ts: BASE + offset, values: { temp: i, rpm: -i } }));
      await store.write(readings);
      const query = windowedQuery([device], 1_000, 'sum', { limit: 3 });
      const pages = await allPages((cursor) => store.queryWindows({ ...query, cursor }));
      expect(pages.flat()).toEqual(expectedWindows(pointsOf(readings), AROUND_BASE, 1_000, 'sum'));
    });
  });

  it('returns the newest value per device and metric, matching the device prefix literally', async () => {
    const prefix = `lat_${RUN}.`;
    const [a, b, decoy] = [`${prefix}a`, `${prefix}b`, `latX${RUN}.c`];
    await store.write([
      { device: a, ts: BASE + 20, values: { temp: 2 } },
      { device: a, ts: BASE + 10, values: { temp: 1, rpm: 7 } },
      { device: b, ts: BASE + 5, values: { temp: -3 } },
      { device: decoy, ts: BASE + 30, values: { temp: 9 } },
    ]);
    expect(await store.queryLatest({ devicePrefix: prefix })).toEqual([
      { device: a, metric: 'rpm', ts: BASE + 10, value: 7 },
      { device: a, metric: 'temp', ts: BASE + 20, value: 2 },
      { device: b, metric: 'temp', ts: BASE + 5, value: -3 },
    ]);
    expect(await store.queryLatest({ devicePrefix: prefix, metrics: ['rpm'] })).toEqual([
      { device: a, metric: 'rpm', ts: BASE + 10, value: 7 },
    ]);
    // No device id can start with these, so a LIKE pattern would be the only way to match.
    expect(await store.queryLatest({ devicePrefix: '%' })).toEqual([]);
    expect(await store.queryLatest({ devicePrefix: '_' })).toEqual([]);
  });

  it('selects readings and windows by device prefix, literally, as the same list of devices would, page by page', async () => {
    const prefix = `pfx_${RUN}.`;
    const devices = [`${prefix}a`, `${prefix}b`, `${prefix}c`];
    const decoy = `pfxX${RUN}.d`;
    const readings = [...devices, decoy].flatMap((device) =>
      Array.from({ length: 5 }, (_, i) => ({ device, ts: BASE + i * 20_000, values: { temp: i, rpm: 10 + i } })),
    );
    await store.write(readings);
    const byPrefix = { devices: [], devicePrefix: prefix };
    const rawPages = await allPages((cursor) =>
      store.queryReadings({ ...readingsQuery(devices, { limit: 7, cursor }), ...byPrefix }),
    );
    expect(rawPages.flat()).toEqual(pointsOf(readings.filter((r) => r.device !== decoy)));
    const windows = windowedQuery(devices, 60_000, 'max', { limit: 4 });
    const windowPages = await allPages((cursor) => store.queryWindows({ ...windows, ...byPrefix, cursor }));
    expect(windowPages.flat()).toEqual(
      await allPages((cursor) => store.queryWindows({ ...windows, cursor })).then((p) => p.flat()),
    );
    expect(windowPages.flat().length).toBeGreaterThan(0);
    // A cursor belongs to the query by prefix, not to the list it happened to find.
    const { nextCursor } = await store.queryReadings({ ...readingsQuery(devices, { limit: 1 }), ...byPrefix });
    await expect(store.queryReadings(readingsQuery(devices, { limit: 1, cursor: nextCursor }))).rejects.toMatchObject({
      code: 'ERR_CURSOR_INVALID',
    });
    expect((await store.queryReadings({ ...readingsQuery(devices), devices: [], devicePrefix: '%' })).items).toEqual(
      [],
    );
  });

  it('lists the written series with the time each was last seen', async () => {
    const device = uniqueDevice('series');
    await store.write([
      { device, ts: BASE + 300, values: { temp: 1 } },
      { device, ts: BASE + 100, values: { temp: 2, rpm: 3 } },
    ]);
    const series = (await store.listSeries()).filter((s) => s.device === device);
    expect([...series].sort((x, y) => (x.metric < y.metric ? -1 : 1))).toEqual([
      { device, metric: 'rpm', lastSeen: BASE + 100 },
      { device, metric: 'temp', lastSeen: BASE + 300 },
    ]);
  });

  it('pages through more rows than one page, returning each exactly once and in order', async () => {
    const devices = [uniqueDevice('page-a'), uniqueDevice('page-b'), uniqueDevice('page-c')];
    const readings = devices.flatMap((device) =>
      Array.from({ length: 7 }, (_, i) => ({ device, ts: BASE + i * 997, values: { temp: i, rpm: -1 - i } })),
    );
    await store.write(readings);
    const pages = await allPages((cursor) => store.queryReadings(readingsQuery(devices, { limit: 5, cursor })));
    expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 5, 5, 5, 5, 2]);
    expect(pages.flat()).toEqual(pointsOf(readings));
    const exact = await store.queryReadings(readingsQuery(devices, { limit: 42 }));
    expect(exact.nextCursor).toBeUndefined();
    expect((await store.queryReadings(readingsQuery(devices, { limit: 41 }))).nextCursor).toBeDefined();
  });

  it('pages through long series whose points bunch up in time, each exactly once and in order', async () => {
    const devices = [uniqueDevice('bunch-a'), uniqueDevice('bunch-b')];
    // 300 points in the first ten seconds, then 60 spread over the next ninety minutes: a store that reads a
    // series a time span at a time, sized from how many points it holds, meets both densities in one page.
    const times = [
      ...Array.from({ length: 300 }, (_, i) => BASE + i * 33),
      ...Array.from({ length: 60 }, (_, i) => BASE + 10_000 + i * 90_017),
    ];
    const readings = devices.flatMap((device) => times.map((ts, i) => ({ device, ts, values: { temp: i } })));
    await store.write(readings);
    for (const limit of [37, 250, 400]) {
      const pages = await allPages((cursor) => store.queryReadings(readingsQuery(devices, { limit, cursor })));
      expect(pages.flat()).toEqual(pointsOf(readings));
      expect(pages.slice(0, -1).every((page) => page.length === limit)).toBe(true);
    }
  });

  it("pages through one device's one metric, each point exactly once and in order", async () => {
    const device = uniqueDevice('one-series');
    // Written newest first, across several writes, with another metric between: order comes from the store.
    const readings = Array.from({ length: 23 }, (_, i) => ({
      device,
      ts: BASE + (22 - i) * 1_013,
      values: { temp: i, rpm: -i },
    }));
    for (let i = 0; i < readings.length; i += 5) await store.write(readings.slice(i, i + 5));
    const query = readingsQuery([device], { metrics: ['temp'] });
    const expected = pointsOf(readings).filter((point) => point.metric === 'temp');
    for (const limit of [1, 4, 22, 23]) {
      const pages = await allPages((cursor) => store.queryReadings({ ...query, limit, cursor }));
      expect(pages.flat()).toEqual(expected);
      expect(pages.length).toBe(Math.ceil(23 / limit));
    }
  });

  it('continues a one-series query from a cursor that names another series as the keyset order says', async () => {
    const device = uniqueDevice('forged-b');
    await store.write([0, 1, 2].map((i) => ({ device, ts: BASE + i * 1_000, values: { temp: i } })));
    const query = readingsQuery([device], { metrics: ['temp'], limit: 10 });
    const all = pointsOf([0, 1, 2].map((i) => ({ device, ts: BASE + i * 1_000, values: { temp: i } })));
    // A client may forge a cursor of its own query: a position before the series, or after it, in (device, metric, ts).
    const before = encodeCursor(query, { device, metric: 'rpm', ts: BASE + 5_000 });
    const after = encodeCursor(query, { device: `${device}-z`, metric: 'temp', ts: BASE - 5_000 });
    expect((await store.queryReadings({ ...query, cursor: before })).items).toEqual(all);
    expect((await store.queryReadings({ ...query, cursor: after })).items).toEqual([]);
  });

  it('pages through windows, returning each exactly once and in order', async () => {
    const devices = [uniqueDevice('wpage-a'), uniqueDevice('wpage-b')];
    const readings = devices.flatMap((device) =>
      Array.from({ length: 12 }, (_, i) => ({ device, ts: BASE + i * 25_000, values: { temp: i } })),
    );
    await store.write(readings);
    const query = windowedQuery(devices, 60_000, 'max', { limit: 4 });
    const pages = await allPages((cursor) => store.queryWindows({ ...query, cursor }));
    expect(pages.flat()).toEqual(expectedWindows(pointsOf(readings), AROUND_BASE, 60_000, 'max'));
    expect(pages.length).toBe(3);
  });

  it('rejects a cursor from another query, or one that is not a cursor', async () => {
    const [first, second] = [uniqueDevice('cur-a'), uniqueDevice('cur-b')];
    const readings = [first, second].flatMap((device) =>
      [0, 1, 2].map((i) => ({ device, ts: BASE + i, values: { t: i } })),
    );
    await store.write(readings);
    const { nextCursor } = await store.queryReadings(readingsQuery([first], { limit: 1 }));
    expect(nextCursor).toBeDefined();
    const invalid = { code: 'ERR_CURSOR_INVALID' };
    await expect(store.queryReadings(readingsQuery([second], { limit: 1, cursor: nextCursor }))).rejects.toMatchObject(
      invalid,
    );
    await expect(
      store.queryWindows(windowedQuery([first], 1_000, 'max', { limit: 1, cursor: nextCursor })),
    ).rejects.toMatchObject(invalid);
    await expect(store.queryReadings(readingsQuery([first], { cursor: 'not a cursor' }))).rejects.toMatchObject(
      invalid,
    );
  });
}
