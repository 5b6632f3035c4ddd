import { CONFIG_DEFAULTS } from '../config/config-defaults.js';
import type { Config } from '../config/config-schema.js';
import { TelemetryError } from '../errors.js';
import type { Reading } from '../protocol/message.js';
import type { TelemetryStore } from '../store/telemetry-store.js';

export interface BatchPolicy {
  /** A batch is written as soon as it holds this many readings. */
  readonly maxBatchReadings: number;
  /**
   * 0 (the default): group commit. A reading is written as soon as no write is
   * under way (at the end of the event-loop turn it arrived in, so messages
   * that came together share the write); while one is, readings gather and go
   * together in the next. Above 0: a batch is also written once its first
   * reading has waited this long, in milliseconds, and not before unless full.
   */
  readonly maxWaitMs: number;
  /** Readings accepted but not yet stored, at most; beyond it submit() fails with ERR_OVERLOADED. */
  readonly maxInflightReadings: number;
  /** Store writes under way at once, at most. */
  readonly maxConcurrentWrites: number;
  /** Seconds a client is told to wait when the node is full. */
  readonly overloadRetryAfterSeconds: number;
}

/** The part of a batch policy that is settings (TELEMETRY_BATCH_MAX_READINGS, ..._WAIT_MS, ..._INFLIGHT_READINGS). */
export function batchPolicyOf(
  config: Pick<Config, 'batchMaxReadings' | 'batchMaxWaitMs' | 'maxInflightReadings'>,
): Pick<BatchPolicy, 'maxBatchReadings' | 'maxWaitMs' | 'maxInflightReadings'> {
  return {
    maxBatchReadings: config.batchMaxReadings,
    maxWaitMs: config.batchMaxWaitMs,
    maxInflightReadings: config.maxInflightReadings,
  };
}

/** The settings' defaults, and the constants that are no settings. */
const DEFAULT_BATCH_POLICY: BatchPolicy = Object.freeze({
  ...batchPolicyOf(CONFIG_DEFAULTS),
  maxConcurrentWrites: 4,
  overloadRetryAfterSeconds: 1,
});

interface Entry {
  readonly readings: readonly Reading[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Observes what the writer does; metrics hang here. */
export interface BatchWriterEvents {
  batchWritten?(readings: number, seconds: number): void;
  batchFailed?(readings: number, seconds: number, error: TelemetryError): void;
  /**
   * Backpressure turned on (the first message refused ERR_OVERLOADED) or off
   * (in-flight readings back to half the limit): once per change.
   */
  backpressure?(on: boolean, inflight: number, limit: number): void;
}

/**
 * Groups the readings of many messages into few store writes, and settles
 * each message's promise only once the batch that holds it is stored: this is
 * what lets a transport acknowledge a message after, and only after, its
 * readings are durable. Memory is bounded by maxInflightReadings: past it,
 * submit() fails at once with ERR_OVERLOADED instead of queueing.
 *
 * By default nothing waits for a timer (group commit, as databases commit
 * their log): an idle store gets a message's readings at once, and the
 * readings that arrive while a write is under way make up the next write, so
 * batches grow with the load and shrink to one message when it is light.
 */
export class BatchWriter {
  readonly #store: TelemetryStore;
  readonly #policy: BatchPolicy;
  readonly #events: BatchWriterEvents;
  #pending: Entry[] = [];
  #pendingReadings = 0;
  #inflight = 0;
  #writing = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #refusing = false;
  /** The end-of-turn flush of group commit, while one is scheduled. */
  #immediate: ReturnType<typeof setImmediate> | undefined;
  readonly #idle = new Set<() => void>();

  constructor(store: TelemetryStore, policy: Partial<BatchPolicy> = {}, events: BatchWriterEvents = {}) {
    this.#store = store;
    this.#policy = { ...DEFAULT_BATCH_POLICY, ...policy };
    this.#events = events;
  }

  /** Readings accepted and not yet stored or failed. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Adds one message's readings; resolves when they are stored, rejects with a TelemetryError otherwise. */
  submit(readings: readonly Reading[]): Promise<void> {
    const count = readings.length;
    if (this.#inflight + count > this.#policy.maxInflightReadings && this.#inflight > 0) {
      if (!this.#refusing) {
        this.#refusing = true;
        this.#events.backpressure?.(true, this.#inflight, this.#policy.maxInflightReadings);
      }
      return Promise.reject(
        new TelemetryError('ERR_OVERLOADED', 'too many readings in flight', {
          retryAfter: this.#policy.overloadRetryAfterSeconds,
        }),
      );
    }
    this.#inflight += count;
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ readings, resolve, reject });
      this.#pendingReadings += count;
      this.#schedule();
    });
  }

  /** Writes whatever is pending now and resolves when nothing is in flight. */
  drain(): Promise<void> {
    this.#flushAll();
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.add(resolve));
  }

  #schedule(): void {
    if (this.#pendingReadings >= this.#policy.maxBatchReadings) {
      this.#flushAll();
    } else if (this.#policy.maxWaitMs === 0) {
      // Group commit: a write under way takes these readings along when it finishes (#startBatch).
      if (this.#writing === 0 && this.#immediate === undefined) {
        this.#immediate = setImmediate(() => {
          this.#immediate = undefined;
          if (this.#writing === 0) this.#flushAll();
        });
      }
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#flushAll();
      }, this.#policy.maxWaitMs);
    }
  }

  #flushAll(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#immediate !== undefined) {
      clearImmediate(this.#immediate);
      this.#immediate = undefined;
    }
    while (this.#pending.length > 0 && this.#writing < this.#policy.maxConcurrentWrites) {
      this.#startBatch(this.#takeBatch());
    }
    // What could not start now starts when a write finishes.
  }

  #takeBatch(): Entry[] {
    // Count first and cut once: shift() per entry would be quadratic in a long queue.
    let taken = 0;
    let size = 0;
    for (const entry of this.#pending) {
      const n = entry.readings.length;
      if (taken > 0 && size + n > this.#policy.maxBatchReadings) break;
      taken++;
      size += n;
    }
    this.#pendingReadings -= size;
    return this.#pending.splice(0, taken);
  }

  #startBatch(batch: Entry[]): void {
    this.#writing++;
    this.#writeBatch(batch).finally(() => {
      this.#writing--;
      if (this.#pending.length > 0) {
        // With group commit (no timer ever set) what gathered during this write goes now; with a wait, a
        // full batch goes now, and what is left whose timer already fired (and found every write slot taken).
        if (this.#pendingReadings >= this.#policy.maxBatchReadings || this.#timer === undefined) this.#flushAll();
      }
    });
  }

  async #writeBatch(batch: Entry[]): Promise<void> {
    // A plain loop: flatMap's generic path cost more than the rest of this method for big batches.
    const readings: Reading[] = [];
    for (const entry of batch) for (const reading of entry.readings) readings.push(reading);
    const size = readings.length;
    const started = performance.now();
    try {
      await this.#store.write(readings);
      this.#events.batchWritten?.(size, (performance.now() - started) / 1000);
      for (const entry of batch) this.#settle(entry, undefined);
    } catch (error) {
      const failure = asStoreWriteFailure(error);
      this.#events.batchFailed?.(size, (performance.now() - started) / 1000, failure);
      if (failure.code === 'ERR_STORE_REJECTED' && batch.length > 1) {
        // One message's readings may poison a whole batch (a type conflict, say): write each
        // message alone so only the culprit is rejected.
        await Promise.all(batch.map((entry) => this.#writeBatch([entry])));
        return;
      }
      for (const entry of batch) this.#settle(entry, failure);
    }
  }

  #settle(entry: Entry, error: TelemetryError | undefined): void {
    this.#inflight -= entry.readings.length;
    // Off at half the limit, not just under it, so a node at the edge does not log every other message.
    if (this.#refusing && this.#inflight <= this.#policy.maxInflightReadings / 2) {
      this.#refusing = false;
      this.#events.backpressure?.(false, this.#inflight, this.#policy.maxInflightReadings);
    }
    if (error === undefined) entry.resolve();
    else entry.reject(error);
    if (this.#inflight === 0) {
      for (const resolve of this.#idle) resolve();
      this.#idle.clear();
    }
  }
}

/**
 * What a failed `store.write` settles the batch's messages with: the store's own ERR_STORE_UNAVAILABLE or
 * ERR_STORE_REJECTED as it is, anything else (another code, a bug in an adapter) as ERR_STORE_UNAVAILABLE, so
 * devices keep the readings and send them again.
 */
function asStoreWriteFailure(error: unknown): TelemetryError {
  if (
    error instanceof TelemetryError &&
    (error.code === 'ERR_STORE_UNAVAILABLE' || error.code === 'ERR_STORE_REJECTED')
  ) {
    return error;
  }
  return new TelemetryError('ERR_STORE_UNAVAILABLE', 'the store write failed', { cause: error, retryAfter: 5 });
}
