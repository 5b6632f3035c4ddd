import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { UPSERT_FROM_STAGING } from './duckdb-queries.js';
import type { StoredPoint } from './telemetry-store.js';

/** How a {@link DuckDbWriter} groups writes and when it checkpoints. */
export interface DuckDbWriterOptions {
  /** Queued writes are merged into one commit up to this many points. */
  readonly maxMergedPoints: number;
  /**
   * Points committed between two checkpoints. The instance's own automatic
   * checkpoint is turned off, because it would run inside a synchronous
   * appender flush, on the event loop; this one runs as an asynchronous
   * statement between writes.
   */
  readonly checkpointEveryPoints: number;
  /** Called with the points of each commit, in commit order, as soon as it is committed. */
  readonly committed?: (points: readonly StoredPoint[]) => void;
}

interface QueuedWrite {
  readonly points: readonly StoredPoint[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Writes points into `readings` through one connection, one commit at a time,
 * in call order. Each commit is one appender flush (DuckDB commits the flush as
 * one transaction, all or nothing). Plain appending refuses a key that is
 * already stored, so a write that fails that way is written again with an
 * upsert (last write wins); a reading rewritten by a retry costs two
 * statements, a new one costs a single flush.
 *
 * Writes queued behind the one under way are merged into one commit; if that
 * commit fails, each of them is written on its own, so one caller's failure
 * never becomes another's. A caller's promise settles only after the commit
 * that holds its points.
 */
export class DuckDbWriter {
  readonly #connection: DuckDBConnection;
  readonly #options: DuckDbWriterOptions;
  readonly #queue: QueuedWrite[] = [];
  /** Settles when the queue is empty and no checkpoint runs; undefined while idle. */
  #draining: Promise<void> | undefined;
  /** Kept open between writes; dropped after a failed flush, which leaves it unusable. */
  #appender: DuckDBAppender | undefined;
  #pointsSinceCheckpoint = 0;

  constructor(connection: DuckDBConnection, options: DuckDbWriterOptions) {
    this.#connection = connection;
    this.#options = options;
  }

  /** Resolves once DuckDB has committed every point; rejects with DuckDB's error otherwise. */
  write(points: readonly StoredPoint[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ points, resolve, reject });
      // A microtask later, so that writes started in the same tick share a commit.
      this.#draining ??= Promise.resolve().then(() => this.#drain());
    });
  }

  /** Resolves once every queued write has settled and no checkpoint is under way. */
  async idle(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining;
  }

  /** Releases the appender; call after {@link DuckDbWriter.idle}. */
  closeSync(): void {
    this.#dropAppender();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const group = this.#takeGroup();
        await this.#writeGroup(group);
        await this.#checkpointWhenDue();
      }
    } finally {
      this.#draining = undefined;
    }
  }

  #takeGroup(): QueuedWrite[] {
    let taken = 0;
    let points = 0;
    for (const write of this.#queue) {
      if (taken > 0 && points + write.points.length > this.#options.maxMergedPoints) break;
      taken++;
      points += write.points.length;
    }
    return this.#queue.splice(0, taken);
  }

  async #writeGroup(group: readonly QueuedWrite[]): Promise<void> {
    if (group.length > 1) {
      try {
        await this.#append(group.flatMap((write) => write.points));
        for (const write of group) write.resolve();
        return;
      } catch {
        // Two writes may hold the same key, or one a stored key: write each on its own, in order.
      }
    }
    for (const write of group) {
      try {
        await this.#writeAlone(write.points);
        write.resolve();
      } catch (error) {
        write.reject(error);
      }
    }
  }

  async #writeAlone(points: readonly StoredPoint[]): Promise<void> {
    try {
      await this.#append(points);
    } catch {
      // Most likely a key already stored; the upsert settles that, and fails again on anything else.
      await this.#upsert(points);
    }
  }

  /** Appends and commits `points`; nothing of them is stored when it throws. */
  async #append(points: readonly StoredPoint[]): Promise<void> {
    this.#appender ??= await this.#connection.createAppender('readings');
    const appender = this.#appender;
    try {
      appendRows(appender, points);
      appender.flushSync();
    } catch (error) {
      this.#dropAppender();
      throw error;
    }
    this.#pointsSinceCheckpoint += points.length;
    this.#options.committed?.(points);
  }

  #dropAppender(): void {
    const appender = this.#appender;
    this.#appender = undefined;
    if (appender === undefined) return;
    try {
      appender.clear();
      appender.closeSync();
    } catch {
      // A failed appender may refuse to close; its native handle is freed with the object.
    }
  }

  /**
   * Stages the points and moves them into `readings` with one upsert, in one
   * transaction: an existing (device, metric, ts) takes the new value.
   */
  async #upsert(points: readonly StoredPoint[]): Promise<void> {
    const connection = this.#connection;
    try {
      await connection.run('BEGIN TRANSACTION');
      await connection.run('DELETE FROM staging');
      const staging = await connection.createAppender('staging', 'main', 'temp');
      try {
        // One upsert cannot set the same row twice: a key written twice in these points (a resent reading in one
        // journal batch) keeps its last value, as two writes one after the other would.
        appendRows(staging, lastOfEachKey(points));
      } finally {
        staging.closeSync();
      }
      await connection.run(UPSERT_FROM_STAGING);
      await connection.run('DELETE FROM staging');
      await connection.run('COMMIT');
    } catch (error) {
      // After a failed COMMIT DuckDB has already rolled back; this ROLLBACK then fails harmlessly.
      await connection.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
    this.#pointsSinceCheckpoint += points.length;
    this.#options.committed?.(points);
  }

  async #checkpointWhenDue(): Promise<void> {
    if (this.#pointsSinceCheckpoint < this.#options.checkpointEveryPoints) return;
    this.#pointsSinceCheckpoint = 0;
    // Committed points are already in the write-ahead log, so a failed checkpoint loses nothing; the next one retries.
    await this.#connection.run('CHECKPOINT').catch(() => undefined);
  }
}

/** The points with each (device, metric, ts) once, at its last value, in the order of their last occurrence. */
function lastOfEachKey(points: readonly StoredPoint[]): readonly StoredPoint[] {
  const last = new Map<string, StoredPoint>();
  for (const point of points) {
    const key = `${point.device}\u0000${point.metric}\u0000${point.ts}`;
    last.delete(key);
    last.set(key, point);
  }
  return last.size === points.length ? points : [...last.values()];
}

/** Appends one row per point, in the column order of `readings` and `staging`. */
function appendRows(appender: DuckDBAppender, points: readonly StoredPoint[]): void {
  for (const point of points) {
    appender.appendVarchar(point.device);
    appender.appendVarchar(point.metric);
    appender.appendBigInt(BigInt(point.ts));
    appender.appendDouble(point.value);
    appender.endRow();
  }
}
