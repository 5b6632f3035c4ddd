import { HttpError } from '@influxdata/influxdb-client';
import { describe, expect, it } from 'vitest';
import { TelemetryError } from '../../src/errors.js';
import { httpFailureToStoreError, isTransientStoreError } from '../../src/store/influx-http.js';
import { DEFAULT_RETRY_POLICY, decideRetry, type RetryDeps, retryWrite } from '../../src/store/retry-write.js';

/** A failed write as InfluxHttp reports it: an HTTP answer with its status and headers. */
function answered(status: number, headers: Record<string, string> = {}): TelemetryError {
  return httpFailureToStoreError(
    new HttpError(status, 'status', '', headers['retry-after'], 'text/plain', undefined, headers),
  );
}

/**
 * A scripted store write on a fake clock: each attempt takes `attemptMs` and fails with the next scripted error,
 * or succeeds once the script runs out; sleeps advance the clock and are recorded.
 */
function scripted(failures: readonly TelemetryError[], attemptMs = 10, random = 0.999_999) {
  let clock = 0;
  let attempts = 0;
  const sleeps: number[] = [];
  const deps: RetryDeps = {
    now: () => clock,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    random: () => random,
    transient: isTransientStoreError,
  };
  const write = async (): Promise<void> => {
    const failure = failures[attempts];
    attempts += 1;
    clock += attemptMs;
    if (failure !== undefined) throw failure;
  };
  return { write, deps, sleeps, attempts: () => attempts, elapsed: () => clock };
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe('retryWrite', () => {
  it('retries a write the store answered with 503 and succeeds when the next attempt does', async () => {
    const store = scripted([answered(503)]);
    await retryWrite(store.write, DEFAULT_RETRY_POLICY, store.deps);
    expect(store.attempts()).toBe(2);
    expect(store.sleeps).toEqual([100]);
  });

  it('backs off exponentially with jitter between half and all of each step', async () => {
    const slowest = scripted([answered(503), answered(500)], 10, 0.999_999);
    await retryWrite(slowest.write, DEFAULT_RETRY_POLICY, slowest.deps);
    expect(slowest.sleeps).toEqual([100, 400]);
    const quickest = scripted([answered(503), answered(500)], 10, 0);
    await retryWrite(quickest.write, DEFAULT_RETRY_POLICY, quickest.deps);
    expect(quickest.sleeps).toEqual([50, 200]);
  });

  it("waits the store's Retry-After instead of the backoff when it fits in the budget", async () => {
    const store = scripted([answered(429, { 'retry-after': '2' })]);
    await retryWrite(store.write, DEFAULT_RETRY_POLICY, store.deps);
    expect(store.sleeps).toEqual([2_000]);
    expect(store.attempts()).toBe(2);
  });

  it('gives up at once when Retry-After exceeds the remaining budget, passing the Retry-After on', async () => {
    const tooLong = answered(503, { 'retry-after': '3' });
    const store = scripted([tooLong]);
    const error = await failureOf(retryWrite(store.write, DEFAULT_RETRY_POLICY, store.deps));
    expect(error).toBe(tooLong);
    expect((error as TelemetryError).retryAfter()).toBe(3);
    expect(store.attempts()).toBe(1);
    expect(store.sleeps).toEqual([]);
  });

  it('gives up when the backoff would end past the budget spent on slow attempts', async () => {
    const store = scripted([answered(504), answered(504), answered(504)], 1_400);
    const error = await failureOf(retryWrite(store.write, DEFAULT_RETRY_POLICY, store.deps));
    expect((error as TelemetryError).code).toBe('ERR_STORE_UNAVAILABLE');
    expect(store.attempts()).toBe(2);
    expect(store.sleeps).toEqual([100]);
  });

  it.each([400, 413, 422])('never retries a write the store refused with HTTP %i', async (status) => {
    const refused = answered(status);
    const store = scripted([refused]);
    expect(await failureOf(retryWrite(store.write, DEFAULT_RETRY_POLICY, store.deps))).toBe(refused);
    expect(refused.code).toBe('ERR_STORE_REJECTED');
    expect(store.attempts()).toBe(1);
  });

  it.each([401, 403, 404])(
    'does not retry an HTTP %i within the write, since waiting a moment cannot fix a misconfigured node',
    async (status) => {
      const misconfigured = answered(status);
      const store = scripted([misconfigured]);
      expect(await failureOf(retryWrite(store.write, DEFAULT_RETRY_POLICY, store.deps))).toBe(misconfigured);
      expect(misconfigured.canRetry()).toBe(true);
      expect(store.attempts()).toBe(1);
    },
  );

  it('stops after maxRetries and rejects with the last failure', async () => {
    const last = answered(503, { 'retry-after': '0' });
    const store = scripted([answered(500), answered(502), last, answered(500)]);
    const error = await failureOf(retryWrite(store.write, DEFAULT_RETRY_POLICY, store.deps));
    expect(error).toBe(last);
    expect(store.attempts()).toBe(3);
    const none = scripted([answered(500)]);
    await failureOf(retryWrite(none.write, { ...DEFAULT_RETRY_POLICY, maxRetries: 0 }, none.deps));
    expect(none.attempts()).toBe(1);
  });

  it('passes on an error that is not a TelemetryError without retrying', async () => {
    let attempts = 0;
    const bug = new TypeError('bug');
    const write = async (): Promise<void> => {
      attempts += 1;
      throw bug;
    };
    expect(await failureOf(retryWrite(write, DEFAULT_RETRY_POLICY, { sleep: async () => {} }))).toBe(bug);
    expect(attempts).toBe(1);
  });
});

describe('decideRetry', () => {
  const unavailable = new TelemetryError('ERR_STORE_UNAVAILABLE', 'down');

  it.each([
    ['the first retry', { retriesDone: 0, elapsedMs: 0 }, 0.5, { retry: true, delayMs: 75 }],
    ['the second retry', { retriesDone: 1, elapsedMs: 200 }, 0.5, { retry: true, delayMs: 300 }],
    ['a retry past maxRetries', { retriesDone: 2, elapsedMs: 200 }, 0.5, { retry: false }],
    ['a backoff that would end past the budget', { retriesDone: 1, elapsedMs: 2_800 }, 0.5, { retry: false }],
  ] as const)('decides %s from the state alone', (_case, state, random, decision) => {
    expect(decideRetry(unavailable, state, DEFAULT_RETRY_POLICY, random)).toEqual(decision);
  });

  it('retries with the Retry-After the store sent when it fits exactly in the budget', () => {
    const failure = new TelemetryError('ERR_STORE_UNAVAILABLE', 'down', { retryAfter: 1 });
    expect(decideRetry(failure, { retriesDone: 0, elapsedMs: 2_000 }, DEFAULT_RETRY_POLICY, 0)).toEqual({
      retry: true,
      delayMs: 1_000,
    });
    expect(decideRetry(failure, { retriesDone: 0, elapsedMs: 2_001 }, DEFAULT_RETRY_POLICY, 0)).toEqual({
      retry: false,
    });
  });

  it('never retries ERR_STORE_REJECTED', () => {
    const rejected = new TelemetryError('ERR_STORE_REJECTED', 'refused');
    expect(decideRetry(rejected, { retriesDone: 0, elapsedMs: 0 }, DEFAULT_RETRY_POLICY, 0)).toEqual({
      retry: false,
    });
  });
});
