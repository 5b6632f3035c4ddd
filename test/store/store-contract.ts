import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Reading } from '../../src/protocol/message.js';
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

/** An adapter under test, opened once for the whole suite and closed by it. */
export interface StoreUnderTest {
  readonly store: TelemetryStore;
  /**
   * Drops every stored reading; called before each test when given. Every test
   * also uses device ids of its own, so a shared server needs no wiping.
   */
  readonly reset?: () => Promise<void>;
}

/**
 * Where a store keeps less than the full contract because of how its server works, not because of the adapter.
 * The suite asserts exactly what is declared here, so a store can still fail it.
 */
export interface StoreCapabilities {
  /**
   * The significant decimal digits the store keeps of a value (alone in its series), or `'exact'` when it reads
   * back every float64 as written, negative zero included. With a number, a value must read back as one that
   * rounds to the same digits as the written one; negative zero and subnormal numbers (below 2^-1022) as 0.
   */
  readonly significantDigits: number | 'exact';
  /**
   * Which value the store keeps when different values are written for the same device, metric and time: the last
   * one written, the largest one, or any one of them (the server's choice, which need not follow the order of
   * writes or stay the same from one run to the next).
   */
  readonly conflictingValues: 'last-write-wins' | 'largest-value-wins' | 'any-written-value';
}

/** The full contract: float64 values kept exactly, and the last value written for a key kept. */
const FULL_CAPABILITIES: StoreCapabilities = {
  significantDigits: 'exact',
  conflictingValues: 'last-write-wins',
};

const AGGREGATES: readonly Aggregate[] = ['mean', 'min', 'max', 'count', 'last'];

const SMALLEST_NORMAL = 2 ** -1022;

/** `value` rounded to `digits` significant digits, with negative zero and subnormal numbers as 0. */
function roundToDigits(value: number, digits: number): number {
  return Math.abs(value) < SMALLEST_NORMAL ? 0 : Number(value.toPrecision(digits));
}

/** What a store keeping `digits` significant digits must read back for `written`: a number or a matcher of one. */
function storedValue(written: number, digits: StoreCapabilities['significantDigits']): unknown {
  if (digits === 'exact') return written;
  const rounded = roundToDigits(written, digits);
  return expect.toSatisfy(
    (read: number) => roundToDigits(read, digits) === rounded,
    `${rounded} to ${digits} significant digits`,
  );
}

/** What a store following `rule` must keep of `written`, the values written for one key in the order written. */
function keptValue(written: readonly number[], rule: StoreCapabilities['conflictingValues']): unknown {
  switch (rule) {
    case 'last-write-wins':
      return written.at(-1);
    case 'largest-value-wins':
      return Math.max(...written);
    case 'any-written-value':
      return expect.toSatisfy((read: number) => written.includes(read), `one of ${written.join(', ')}`);
  }
}

const CONFLICT_TITLES: Record<StoreCapabilities['conflictingValues'], string> = {
  'last-write-wins': 'keeps the last value written for the same device, metric and time',
  'largest-value-wins': 'keeps the largest value written for the same device, metric and time',
  'any-written-value': 'keeps exactly one of the values written for the same device, metric and time',
};

/**
 * Registers the behaviour every {@link TelemetryStore} adapter must show, as one `describe` block, relaxed only
 * where `capabilities` say the store's server keeps less.
 */
export function describeStoreContract(
  name: string,
  open: () => Promise<StoreUnderTest>,
  capabilities: StoreCapabilities = FULL_CAPABILITIES,
): void {
  describe(name, () => {
    let subject: StoreUnderTest;
    let store: TelemetryStore;

    beforeAll(async () => {
      subject = await open();
      store = subject.store;
    });
    beforeEach(async () => {
      await subject.reset?.();
    });
    afterAll(async () => {
      await store?.close();
    });

    async function readBack(devices: readonly string[]): Promise<readonly StoredPoint[]> {
      return (await store.queryReadings(readingsQuery(devices))).items;
    }

    const digits = capabilities.significantDigits;
    const roundTrip =
      digits === 'exact'
        ? 'exactly the values and millisecond timestamps it wrote'
        : `the values it wrote to ${digits} significant digits, and their millisecond timestamps exactly`;
    it(`reads back ${roundTrip}`, async () => {
      const device = uniqueDevice('exact');
      const values = [0, -0.5, 42, -123_456.789, 0.1 + 0.2, 1e300, -1e300, 5e-324, Number.MAX_VALUE];
      // Each value in a series of its own: VictoriaMetrics gives the values of one series stored together one decimal
      // exponent, so beside 1e300 the others would read back as 0, which significantDigits does not describe.
      const readings = values.map((v, i) => ({ device, ts: BASE + i * 1_001 + 7, values: { [`temp${i}`]: v } }));
      await store.write(readings);
      expect(await readBack([device])).toEqual(
        pointsOf(readings).map((p) => ({ ...p, value: storedValue(p.value, digits) })),
      );
    });

    it('stores a reading written twice, or twice in one batch, only once', async () => {
      const device = uniqueDevice('twice');
      const reading: Reading = { device, ts: BASE + 1, values: { temp: 21.5, rpm: 900 } };
      await store.write([reading]);
      await store.write([reading, reading]);
      expect(await readBack([device])).toEqual(pointsOf([reading]));
    });

    it(CONFLICT_TITLES[capabilities.conflictingValues], async () => {
      const device = uniqueDevice('conflict');
      // Two values per time, rising and falling, written in two writes (BASE, BASE + 1) or in one (BASE + 2, + 3),
      // so that keeping the last, the largest or the first value gives three different results; rpm is written
      // once per time and must read back as written.
      await store.write([
        { device, ts: BASE, values: { temp: 1, rpm: 5 } },
        { device, ts: BASE + 1, values: { temp: 4 } },
      ]);
      await store.write([
        { device, ts: BASE, values: { temp: 2 } },
        { device, ts: BASE + 1, values: { temp: 3 } },
      ]);
      await store.write([
        { device, ts: BASE + 2, values: { temp: 5, rpm: 8 } },
        { device, ts: BASE + 2, values: { temp: 6 } },
        { device, ts: BASE + 3, values: { temp: 8 } },
        { device, ts: BASE + 3, values: { temp: 7 } },
      ]);
      const kept = (written: readonly number[]) => keptValue(written, capabilities.conflictingValues);
      expect(await readBack([device])).toEqual([
        { device, metric: 'rpm', ts: BASE, value: 5 },
        { device, metric: 'rpm', ts: BASE + 2, value: 8 },
        { device, metric: 'temp', ts: BASE, value: kept([1, 2]) },
        { device, metric: 'temp', ts: BASE + 1, value: kept([4, 3]) },
        { device, metric: 'temp', ts: BASE + 2, value: kept([5, 6]) },
        { device, metric: 'temp', ts: BASE + 3, value: kept([8, 7]) },
      ]);
    });

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
          aggregate === 'mean' ? expected.map((w) => ({ ...w, value: expect.closeTo(w.value, 6) })) : expected,
        );
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
      await expect(
        store.queryReadings(readingsQuery([second], { limit: 1, cursor: nextCursor })),
      ).rejects.toMatchObject(invalid);
      await expect(
        store.queryWindows(windowedQuery([first], 1_000, 'max', { limit: 1, cursor: nextCursor })),
      ).rejects.toMatchObject(invalid);
      await expect(store.queryReadings(readingsQuery([first], { cursor: 'not a cursor' }))).rejects.toMatchObject(
        invalid,
      );
    });

    it('accepts an empty batch', async () => {
      await expect(store.write([])).resolves.toBeUndefined();
    });

    it('keeps names with every allowed punctuation character and the maximum length exactly', async () => {
      const device = `a.b_c-d-${RUN}-`.padEnd(64, 'x');
      const longMetric = '_a.b_c-d'.padEnd(64, 'm');
      const reading: Reading = { device, ts: BASE, values: { 'a.b_c-d': 1, [longMetric]: 2 } };
      await store.write([reading]);
      expect(await readBack([device])).toEqual(pointsOf([reading]));
      expect(await store.queryLatest({ devicePrefix: device })).toEqual(pointsOf([reading]));
      const series = (await store.listSeries()).filter((s) => s.device === device).map((s) => s.metric);
      expect(series.sort()).toEqual([longMetric, 'a.b_c-d'].sort());
    });
  });
}
