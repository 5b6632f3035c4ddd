import { type DuckDBConnection, DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';
import { TelemetryError } from '../errors.js';
import type { Reading } from '../protocol/message.js';
import { type CursorKey, decodeCursor, type SeriesAhead } from './cursor.js';
import {
  CREATE_READINGS_TABLE,
  CREATE_STAGING_TABLE,
  cursorSeriesStatement,
  type DuckDbStatement,
  latestStatement,
  onlySeries,
  pointFromRow,
  readingsStatement,
  type SeriesKey,
  sameSeries,
  seriesCountsStatement,
  windowsStatement,
} from './duckdb-queries.js';
import { DuckDbReadConnection } from './duckdb-read-connection.js';
import { DuckDbWriter } from './duckdb-writer.js';
import { flattenReadings } from './flatten-readings.js';
import { aheadAfter, keysetPage, pageLimit } from './keyset-page.js';
import { SeriesCatalogue } from './series-catalogue.js';
import type {
  LatestQuery,
  Page,
  ReadingsQuery,
  SeriesInfo,
  StoredPoint,
  TelemetryStore,
  WindowedQuery,
  WindowPoint,
} from './telemetry-store.js';
import { type JournalBatch, WriteJournal } from './write-journal.js';

/** Where {@link DuckDbStore.open} keeps its data. */
export interface DuckDbStoreOptions {
  /** Database file, created when missing; `':memory:'` keeps everything in memory. */
  readonly path: string;
  /**
   * DuckDB's worker threads; default 1. Writes are many small commits, for
   * which a second thread only adds wake-ups: one thread costs about half the
   * CPU per write. More threads speed up large queries.
   */
  readonly threads?: number;
  /** Points committed between two checkpoints of the write-ahead log into the file; default 250,000 (about 16 MB of log). */
  readonly checkpointEveryPoints?: number;
  /**
   * A file store acknowledges a write once it is in its journal (`<path>.journal.<n>`, docs/STORAGE.md) and moves
   * the journaled points into DuckDB, in one commit, once this many wait (default 1,000), after
   * {@link DuckDbStoreOptions.flushAfterMs}, or before any query. A write of this many points or more skips the
   * journal: DuckDB commits it at once.
   */
  readonly flushEveryPoints?: number;
  /** How long journaled points wait for DuckDB at most, in milliseconds (default 200). */
  readonly flushAfterMs?: number;
}

/** Queued writes are merged into one commit up to this many points. */
const MAX_MERGED_POINTS = 5_000;
const DEFAULT_FLUSH_EVERY_POINTS = 1_000;
const DEFAULT_FLUSH_AFTER_MS = 200;
/**
 * Journaled points waiting for DuckDB, at most (about 100 bytes of memory each): a write beyond it first waits
 * until DuckDB has taken them, so a DuckDB that cannot keep up or fails holds writes back instead of memory.
 */
const MAX_WAITING_POINTS = 50_000;
const DEFAULT_CHECKPOINT_EVERY_POINTS = 250_000;
/** Read connections kept between queries: as many as the query API reads at once in the common case. */
const IDLE_READERS = 4;

function unavailable(message: string, cause?: unknown): TelemetryError {
  return new TelemetryError('ERR_STORE_UNAVAILABLE', message, cause === undefined ? {} : { cause });
}

function seriesCountFromRow(row: readonly DuckDBValue[]): SeriesAhead {
  const [device, metric, points] = row;
  if (typeof device !== 'string' || typeof metric !== 'string' || typeof points !== 'bigint') {
    throw new TypeError('DuckDB returned a row of an unexpected shape');
  }
  return { device, metric, points: Number(points) };
}

/**
 * The last series a page of `limit` points reaches, from the counts of the series after the cursor (in order): a
 * page then sorts about its own rows, where sorting every row left in the range made each page of a long answer
 * cost as much as the whole range. `exceeded` is false when the counted points do not fill more than a page (the
 * last series is then the end of what was counted).
 */
function reachedSeries(
  counts: readonly SeriesAhead[],
  limit: number,
): { readonly through: SeriesKey | undefined; readonly exceeded: boolean } {
  let through: SeriesAhead | undefined;
  let points = 0;
  for (const series of counts) {
    through = series;
    points += series.points;
    if (points > limit) return { through, exceeded: true };
  }
  return { through, exceeded: false };
}

/**
 * A {@link TelemetryStore} in one embedded DuckDB file: for a single node, for
 * development, and for tests. Writes go through one connection (see
 * {@link DuckDbWriter}), in call order, each committed before it resolves;
 * every query runs on a read connection of its own (a few are kept between
 * queries) and reads the last committed state. The newest values and the
 * series list come from memory ({@link SeriesCatalogue}), since this store is
 * the file's only writer.
 *
 * @example
 * ```ts
 * const store = await DuckDbStore.open({ path: '/var/lib/telemetry/readings.duckdb' });
 * await store.write([{ device: 'pump-1', ts: Date.now(), values: { temp: 21.5 } }]);
 * const latest = await store.queryLatest({ devicePrefix: 'pump-' });
 * await store.close();
 * ```
 */
export class DuckDbStore implements TelemetryStore {
  readonly #instance: DuckDBInstance;
  /** The only connection that writes; the staging table is private to it. */
  readonly #connection: DuckDBConnection;
  readonly #writer: DuckDbWriter;
  /** Operations that close() waits for before it releases the database. */
  readonly #pending = new Set<Promise<unknown>>();
  /** Read connections between queries (at most {@link IDLE_READERS}): connecting and closing cost 0.1–0.3 ms a query. */
  readonly #idleReaders: DuckDbReadConnection[] = [];
  /** Every series and its newest value: what was committed since open, and, once read, what the file held. */
  readonly #catalogue = new SeriesCatalogue();
  /** Settles once the file's series are merged into the catalogue; undefined until first asked, or after a failure. */
  #catalogueRead: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  /** Where a file store's writes are acknowledged (see {@link DuckDbStoreOptions.flushEveryPoints}); none in memory. */
  readonly #journal: WriteJournal | undefined;
  readonly #flushEveryPoints: number;
  readonly #flushAfterMs: number;
  /** Journaled points taken for DuckDB that it has not committed yet (a failed flush): written first by the next. */
  readonly #carried: JournalBatch[] = [];
  /** The flush under way, if any. */
  #flushing: Promise<void> | undefined;
  #flushTimer: NodeJS.Timeout | undefined;

  private constructor(
    instance: DuckDBInstance,
    connection: DuckDBConnection,
    checkpointEveryPoints: number,
    journal: WriteJournal | undefined,
    flushEveryPoints: number,
    flushAfterMs: number,
  ) {
    this.#instance = instance;
    this.#connection = connection;
    this.#journal = journal;
    this.#flushEveryPoints = flushEveryPoints;
    this.#flushAfterMs = flushAfterMs;
    this.#writer = new DuckDbWriter(connection, {
      maxMergedPoints: MAX_MERGED_POINTS,
      checkpointEveryPoints,
      committed: (points) => this.#catalogue.record(points),
    });
  }

  /**
   * Opens (or creates) the database at `options.path` and its schema.
   *
   * @throws TelemetryError ERR_STORE_UNAVAILABLE when the file cannot be opened.
   */
  static async open(options: DuckDbStoreOptions): Promise<DuckDbStore> {
    const threads = options.threads ?? 1;
    const checkpointEveryPoints = options.checkpointEveryPoints ?? DEFAULT_CHECKPOINT_EVERY_POINTS;
    const flushEveryPoints = options.flushEveryPoints ?? DEFAULT_FLUSH_EVERY_POINTS;
    const flushAfterMs = options.flushAfterMs ?? DEFAULT_FLUSH_AFTER_MS;
    for (const [name, value] of Object.entries({ threads, checkpointEveryPoints, flushEveryPoints, flushAfterMs })) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
    }
    let instance: DuckDBInstance | undefined;
    let writer: DuckDBConnection | undefined;
    let journal: WriteJournal | undefined;
    try {
      instance = await DuckDBInstance.create(options.path, {
        threads: String(threads),
        // DuckDbWriter checkpoints between writes instead (see DuckDbWriterOptions).
        checkpoint_threshold: '1TB',
      });
      writer = await instance.connect();
      await writer.run(CREATE_READINGS_TABLE);
      await writer.run(CREATE_STAGING_TABLE);
      // Opened once DuckDB holds the file's lock, so no other process appends to the same journal.
      journal = options.path === ':memory:' ? undefined : await WriteJournal.open(`${options.path}.journal`);
      const store = new DuckDbStore(instance, writer, checkpointEveryPoints, journal, flushEveryPoints, flushAfterMs);
      // What the journal held when the last process ended without moving it into DuckDB (a crash): written now.
      await store.#settle();
      return store;
    } catch (error) {
      await journal?.close().catch(() => undefined);
      writer?.closeSync();
      instance?.closeSync();
      throw unavailable('cannot open the DuckDB store', error);
    }
  }

  /**
   * Resolves once the readings are stored for good: for a file store, in the journal, synced to disk (DuckDB takes
   * them later, before any query reads), or, for a write of {@link DuckDbStoreOptions.flushEveryPoints} points or
   * more, committed by DuckDB; in memory, committed by DuckDB.
   */
  async write(readings: readonly Reading[]): Promise<void> {
    this.#assertOpen();
    const points = flattenReadings(readings);
    if (points.length === 0) return;
    const journal = this.#journal;
    if (journal === undefined || points.length >= this.#flushEveryPoints) {
      // In memory, or a write as large as a flush: committed by DuckDB at once, after what the journal holds (so
      // that writes keep their order), instead of being written to disk twice.
      await this.#track(
        (async () => {
          if (journal !== undefined) await this.#settle();
          await this.#writer.write(points).catch((error: unknown) => {
            throw unavailable('DuckDB did not accept the write', error);
          });
        })(),
      );
      return;
    }
    await this.#track(
      (async () => {
        if (journal.pendingPoints + this.#carriedPoints() >= MAX_WAITING_POINTS) await this.#settle();
        await journal.append(points).catch((error: unknown) => {
          throw unavailable('the write journal did not accept the write', error);
        });
        this.#flushWhenDue(journal);
      })(),
    );
  }

  /** Starts a flush once enough points wait, or arms the timer for the first of them. */
  #flushWhenDue(journal: WriteJournal): void {
    if (journal.pendingPoints >= this.#flushEveryPoints) {
      this.#flushInBackground();
    } else if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => this.#flushInBackground(), this.#flushAfterMs);
      this.#flushTimer.unref();
    }
  }

  /** A flush nobody waits for: a failure keeps its points for the next flush, which a write, query or close starts. */
  #flushInBackground(): void {
    this.#flush().catch(() => undefined);
  }

  /** Moves every journaled point into DuckDB (one flush at a time; a caller during one shares it). */
  #flush(): Promise<void> {
    this.#flushing ??= this.#flushOnce().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const journal = this.#journal;
    if (journal === undefined) return;
    this.#carried.push(await journal.take());
    const points =
      this.#carried.length === 1
        ? (this.#carried[0] as JournalBatch).points
        : this.#carried.flatMap((batch) => batch.points);
    if (points.length > 0) {
      await this.#writer.write(points).catch((error: unknown) => {
        throw unavailable('DuckDB did not accept the write', error);
      });
    }
    for (const batch of this.#carried.splice(0)) await batch.release();
  }

  /** Resolves once every write acknowledged before the call is committed by DuckDB. */
  async #settle(): Promise<void> {
    if (this.#journal === undefined) return;
    // A flush under way may have taken its points before the last acknowledged ones.
    while (this.#flushing !== undefined) await this.#flushing.catch(() => undefined);
    if (this.#journal.pendingPoints > 0 || this.#carried.length > 0) await this.#flush();
  }

  #carriedPoints(): number {
    let points = 0;
    for (const batch of this.#carried) points += batch.points.length;
    return points;
  }

  async queryReadings(query: ReadingsQuery): Promise<Page<StoredPoint>> {
    this.#assertOpen();
    await this.#settle();
    const limit = pageLimit(query.limit);
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query, query.cursor);
    const series = onlySeries(query);
    if (series !== undefined) {
      return keysetPage(
        query,
        await this.#select(readingsStatement(query, cursor, limit + 1, series), pointFromRow),
        limit,
      );
    }
    const ahead = cursor?.ahead;
    if (cursor !== undefined && ahead !== undefined && sameSeries(ahead[0], cursor)) {
      // The last page counted what follows it: plan this page from that instead of counting again, and trust the
      // plan only when it reads more than a page (a count only falls short of what is stored, unless forged).
      const page = await this.#plannedPage(query, cursor, ahead, limit);
      if (page !== undefined) return page;
    }
    const counts = await this.#select(seriesCountsStatement(query, cursor), seriesCountFromRow);
    const { through } = reachedSeries(counts, limit);
    if (through === undefined) return keysetPage(query, [], limit);
    const rows = await this.#select(readingsStatement(query, cursor, limit + 1, through), pointFromRow);
    return keysetPage(query, rows, limit, aheadAfter(rows.slice(0, limit), counts));
  }

  /**
   * A page read as the cursor's counts of what follows plan it, or undefined when the plan does not hold a
   * whole page and more (the page is then counted as any other). A page within the cursor's own series reads
   * that series alone, by time; otherwise the read reaches as far as the counts say the page does.
   */
  async #plannedPage(
    query: ReadingsQuery,
    cursor: CursorKey,
    ahead: readonly SeriesAhead[],
    limit: number,
  ): Promise<Page<StoredPoint> | undefined> {
    const [own] = ahead;
    if (own !== undefined && own.points > limit) {
      const rows = await this.#select(cursorSeriesStatement(query, cursor, limit + 1), pointFromRow);
      if (rows.length <= limit) return undefined;
      return keysetPage(query, rows, limit, [{ ...own, points: own.points - limit }, ...ahead.slice(1)]);
    }
    const { through, exceeded } = reachedSeries(ahead, limit);
    if (through === undefined || !exceeded) return undefined;
    const rows = await this.#select(readingsStatement(query, cursor, limit + 1, through), pointFromRow);
    if (rows.length <= limit) return undefined;
    return keysetPage(query, rows, limit, aheadAfter(rows.slice(0, limit), ahead));
  }

  async queryWindows(query: WindowedQuery): Promise<Page<WindowPoint>> {
    this.#assertOpen();
    await this.#settle();
    const limit = pageLimit(query.limit);
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query, query.cursor);
    const statement = windowsStatement(query, query.windowMs, query.aggregate, cursor, limit + 1, query.originMs);
    const windows = await this.#select(statement, pointFromRow);
    return keysetPage(query, windows, limit);
  }

  /** From memory (see {@link SeriesCatalogue}), once the file's series have been read. */
  async queryLatest(query: LatestQuery): Promise<readonly StoredPoint[]> {
    this.#assertOpen();
    await this.#settle();
    return (await this.#readCatalogue()).latest(query);
  }

  async listSeries(): Promise<readonly SeriesInfo[]> {
    this.#assertOpen();
    await this.#settle();
    return (await this.#readCatalogue()).series();
  }

  /**
   * The catalogue, complete: the first call reads the newest value of every series in the file (one scan of the
   * table, as `latest` was before) and merges it; later calls answer at once. Writes are recorded from open on,
   * so a write committed while the scan runs is in the catalogue whichever side of the scan it fell.
   */
  async #readCatalogue(): Promise<SeriesCatalogue> {
    this.#catalogueRead ??= this.#select(latestStatement({}), pointFromRow).then(
      (points) => this.#catalogue.merge(points),
      (error: unknown) => {
        this.#catalogueRead = undefined;
        throw error;
      },
    );
    await this.#catalogueRead;
    return this.#catalogue;
  }

  async ping(): Promise<void> {
    this.#assertOpen();
    await this.#select({ sql: 'SELECT 1', values: [], types: [] }, () => undefined);
  }

  /** Waits for the operations under way, then releases the file. Later calls do nothing more. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    await Promise.allSettled(this.#pending);
    // What DuckDB does not take now stays in the journal and is written at the next open.
    await this.#settle().catch(() => undefined);
    clearTimeout(this.#flushTimer);
    await this.#journal?.close().catch(() => undefined);
    // A checkpoint may still run on the writer's connection after the last write settled.
    await this.#writer.idle();
    this.#writer.closeSync();
    for (const reader of this.#idleReaders.splice(0)) reader.closeSync();
    this.#connection.closeSync();
    this.#instance.closeSync();
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) throw unavailable('the DuckDB store is closed');
  }

  #track<T>(operation: Promise<T>): Promise<T> {
    this.#pending.add(operation);
    const forget = (): void => {
      this.#pending.delete(operation);
    };
    operation.then(forget, forget);
    return operation;
  }

  /**
   * Runs one query on a read connection of its own (an idle one, or a new one), so reads never wait behind a
   * write; each statement is its own transaction, so it reads the last committed state. A connection goes back
   * to the idle ones after a query that succeeded, and is closed after one that failed.
   */
  #select<T>(statement: DuckDbStatement, fromRow: (row: readonly DuckDBValue[]) => T): Promise<T[]> {
    return this.#track(
      (async () => {
        let connection: DuckDbReadConnection | undefined;
        try {
          connection = this.#idleReaders.pop() ?? (await DuckDbReadConnection.open(this.#instance));
          const rows = (await connection.rows(statement)).map(fromRow);
          if (this.#closing === undefined && this.#idleReaders.length < IDLE_READERS) {
            this.#idleReaders.push(connection);
            connection = undefined;
          }
          return rows;
        } catch (error) {
          throw unavailable('DuckDB did not answer the query', error);
        } finally {
          connection?.closeSync();
        }
      })(),
    );
  }
}
