import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Reading, TelemetryError } from '../../src/index.js';
import { BatchWriter } from '../../src/pipeline/batch-writer.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';

const NOW = Date.now() - 60_000;
const reading = (device: string, i: number, metric = 'n'): Reading => ({
  device,
  ts: NOW + i,
  values: { [metric]: i },
});

/** A real store that refuses any batch holding a metric called `poison`, as InfluxDB refuses a type conflict. */
class PoisonRefusingStore {
  readonly batches: number[] = [];
  constructor(readonly inner: TelemetryStore) {}
  async write(readings: readonly Reading[]): Promise<void> {
    this.batches.push(readings.length);
    if (readings.some((r) => 'poison' in r.values))
      throw new TelemetryError('ERR_STORE_REJECTED', 'field type conflict');
    await this.inner.write(readings);
  }
}

let duck: DuckDbStore;
let store: PoisonRefusingStore;

beforeEach(async () => {
  duck = await DuckDbStore.open({ path: ':memory:' });
  store = new PoisonRefusingStore(duck);
});

afterEach(async () => {
  await duck.close();
});

const asStore = () => store as unknown as TelemetryStore;

describe('BatchWriter', () => {
  it('groups the readings of many messages into one store write', async () => {
    const writer = new BatchWriter(asStore(), { maxBatchReadings: 100, maxWaitMs: 5 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => writer.submit([reading('a', i), reading('b', i)])));
    expect(store.batches).toEqual([20]);
  });

  it('writes as soon as a batch is full, without waiting for the timer', async () => {
    const writer = new BatchWriter(asStore(), { maxBatchReadings: 4, maxWaitMs: 60_000 });
    await Promise.all([
      writer.submit([reading('a', 1), reading('a', 2)]),
      writer.submit([reading('a', 3), reading('a', 4)]),
    ]);
    expect(store.batches).toEqual([4]);
  });

  it('rejects only the message whose readings the store refuses, and stores the others of its batch', async () => {
    const writer = new BatchWriter(asStore(), { maxBatchReadings: 100, maxWaitMs: 5 });
    const outcomes = await Promise.allSettled([
      writer.submit([reading('a', 1)]),
      writer.submit([reading('b', 1, 'poison')]),
      writer.submit([reading('c', 1)]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_STORE_REJECTED' });
    const stored = await duck.listSeries();
    expect(stored.map((s) => s.device)).toEqual(['a', 'c']);
    expect(writer.inflight).toBe(0);
  });

  it('refuses at once with ERR_OVERLOADED past the in-flight cap, and accepts again once writes finish', async () => {
    const writer = new BatchWriter(asStore(), { maxBatchReadings: 100, maxWaitMs: 5, maxInflightReadings: 3 });
    const first = writer.submit([reading('a', 1), reading('a', 2), reading('a', 3)]);
    await expect(writer.submit([reading('a', 4)])).rejects.toMatchObject({
      code: 'ERR_OVERLOADED',
      retryAfterSeconds: 1,
    });
    await first;
    await expect(writer.submit([reading('a', 4)])).resolves.toBeUndefined();
  });

  it('takes a message larger than the cap when nothing else is in flight, so it can never be stuck', async () => {
    const writer = new BatchWriter(asStore(), { maxBatchReadings: 2, maxWaitMs: 5, maxInflightReadings: 2 });
    await expect(writer.submit([reading('a', 1), reading('a', 2), reading('a', 3)])).resolves.toBeUndefined();
  });

  it('drains: resolves once everything submitted is stored', async () => {
    const writer = new BatchWriter(asStore(), { maxBatchReadings: 1000, maxWaitMs: 60_000 });
    const pending = writer.submit([reading('a', 1)]);
    await writer.drain();
    await pending;
    expect(store.batches).toEqual([1]);
  });
});
