import { beforeAll, expect, it } from 'vitest';
import type { Reading } from '../../src/protocol/message.js';
import type { StoredPoint, TelemetryStore } from '../../src/store/telemetry-store.js';
import { BASE, pointsOf, RUN, readingsQuery, uniqueDevice } from './store-fixtures.js';

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
 * The writes part of the store contract (see describeStoreContract): values and timestamps read back as written,
 * a reading written twice stored once, conflicting values kept as `capabilities` say, an empty batch, and names at
 * the limits of what is allowed. `opened` gives the store, which describeStoreContract opens before these tests.
 */
export function describeWriteContract(opened: () => TelemetryStore, capabilities: StoreCapabilities): void {
  let store: TelemetryStore;

  beforeAll(() => {
    store = opened();
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

  it('gives as newest value of a series the one its readings read back with, after rewrites', async () => {
    const prefix = `newest_${RUN}.`;
    const [a, b] = [`${prefix}a`, `${prefix}b`];
    const newest = async () => {
      const points = await readBack([a, b]);
      return points.filter((p, i) => points[i + 1]?.device !== p.device || points[i + 1]?.metric !== p.metric);
    };
    await store.write([{ device: a, ts: BASE + 10, values: { temp: 1 } }]);
    expect(await store.queryLatest({ devicePrefix: prefix })).toEqual(await newest());
    // The same time rewritten (in two writes, then twice in one), an older time, and a series that is new.
    await store.write([{ device: a, ts: BASE + 10, values: { temp: 2 } }]);
    await store.write([
      { device: a, ts: BASE + 10, values: { temp: 3 } },
      { device: a, ts: BASE + 10, values: { temp: 4 } },
      { device: a, ts: BASE + 5, values: { temp: 5 } },
      { device: b, ts: BASE + 1, values: { rpm: 6 } },
    ]);
    const latest = await store.queryLatest({ devicePrefix: prefix });
    expect(latest).toEqual([
      { device: a, metric: 'temp', ts: BASE + 10, value: keptValue([1, 2, 3, 4], capabilities.conflictingValues) },
      { device: b, metric: 'rpm', ts: BASE + 1, value: 6 },
    ]);
    // A store that picks any of the values written for a time may pick another on each read.
    if (capabilities.conflictingValues !== 'any-written-value') expect(latest).toEqual(await newest());
    expect((await store.listSeries()).filter((s) => s.device.startsWith(prefix))).toEqual([
      { device: a, metric: 'temp', lastSeen: BASE + 10 },
      { device: b, metric: 'rpm', lastSeen: BASE + 1 },
    ]);
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
}
