import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

/** A real store whose writes each wait for the test to let them through, so a write can be held under way. */
class GatedStore {
  readonly batches: number[] = [];
  readonly #gates: (() => void)[] = [];
  constructor(readonly inner: TelemetryStore) {}
  async write(readings: readonly Reading[]): Promise<void> {
    this.batches.push(readings.length);
    await new Promise<void>((open) => this.#gates.push(open));
    await this.inner.write(readings);
  }
  /** Lets every write that has started so far go on to the store. */
  release(): void {
    for (const open of this.#gates.splice(0)) open();
  }
}

/** Resolves once `condition` holds, checking after each event-loop turn. */
async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 1_000 && !condition(); turn++) await new Promise((next) => setImmediate(next));
  expect(condition()).toBe(true);
}

let duck: DuckDbStore;
let store: PoisonRefusingStore;

beforeEach(async () => {
  duck = await DuckDbStore.open({ path: ':memory:' });
  store = new PoisonRefusingStore(duck);
});

afterEach(async () => {
  vi.useRealTimers();
  await duck.close();
});

const asStore = () => store as unknown as TelemetryStore;

describe('BatchWriter with group commit (the default, no batch wait)', () => {
  it('writes a lone message at once when the store is idle, with no timer to wait for', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'Date'] });
    const writer = new BatchWriter(asStore());
    await writer.submit([reading('a', 1)]);
    expect(store.batches).toEqual([1]);
    expect(await duck.listSeries()).toHaveLength(1);
  });

  it('writes the messages that arrive in the same event-loop turn together', async () => {
    const writer = new BatchWriter(asStore());
    await Promise.all(Array.from({ length: 10 }, (_, i) => writer.submit([reading('a', i), reading('b', i)])));
    expect(store.batches).toEqual([20]);
  });

  it('gathers what arrives while a write is under way into the next write, and settles each after its own write', async () => {
    const gated = new GatedStore(duck);
    const writer = new BatchWriter(gated as unknown as TelemetryStore);
    const settled: string[] = [];
    const first = writer.submit([reading('a', 1)]).then(() => settled.push('first'));
    await until(() => gated.batches.length === 1);
    const later = [2, 3, 4].map((i) => writer.submit([reading('a', i)]).then(() => settled.push(`later ${i}`)));
    await new Promise((next) => setImmediate(next));
    expect(gated.batches).toEqual([1]);
    expect(settled).toEqual([]);

    gated.release();
    await first;
    await until(() => gated.batches.length === 2);
    expect(gated.batches).toEqual([1, 3]);
    expect(settled).toEqual(['first']);

    gated.release();
    await Promise.all(later);
    expect(settled).toEqual(['first', 'later 2', 'later 3', 'later 4']);
    const stored = await duck.queryReadings({ devices: ['a'], range: { start: NOW, end: NOW + 10 }, limit: 10 });
    expect(stored.items.map((point) => point.value)).toEqual([1, 2, 3, 4]);
  });

  it('bounds what gathers by the batch size: a full batch starts beside the write under way', async () => {
    const gated = new GatedStore(duck);
    const writer = new BatchWriter(gated as unknown as TelemetryStore, { maxBatchReadings: 2 });
    const first = writer.submit([reading('a', 1)]);
    await until(() => gated.batches.length === 1);
    const later = [2, 3, 4, 5, 6].map((i) => writer.submit([reading('a', i)]));
    expect(gated.batches).toEqual([1, 2, 2]);
    gated.release();
    await first;
    await until(() => gated.batches.length === 4);
    expect(gated.batches).toEqual([1, 2, 2, 1]);
    gated.release();
    await Promise.all(later);
    expect(writer.inflight).toBe(0);
  });
});

describe('BatchWriter with a batch wait', () => {
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
