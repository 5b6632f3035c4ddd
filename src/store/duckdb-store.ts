import {
  BIGINT,
  DOUBLE,
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBType,
  type DuckDBValue,
  VARCHAR,
} from '@duckdb/node-api';
import { TelemetryError } from '../errors.js';
import type { Reading } from '../protocol/message.js';
import { decodeCursor } from './cursor.js';
import {
  CREATE_READINGS_TABLE,
  CREATE_STAGING_TABLE,
  type DuckDbStatement,
  LIST_SERIES,
  latestStatement,
  pointFromRow,
  readingsStatement,
  UPSERT_FROM_STAGING,
  upsertValuesStatement,
  windowsStatement,
} from './duckdb-queries.js';
import { flattenReadings } from './flatten-readings.js';
import { keysetPage, pageLimit } from './keyset-page.js';
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

/** Where {@link DuckDbStore.open} keeps its data. */
export interface DuckDbStoreOptions {
  /** Database file, created when missing; `':memory:'` keeps everything in memory. */
  readonly path: string;
}

function unavailable(message: string, cause?: unknown): TelemetryError {
  return new TelemetryError('ERR_STORE_UNAVAILABLE', message, cause === undefined ? {} : { cause });
}

function seriesFromRow(row: readonly DuckDBValue[]): SeriesInfo {
  const [device, metric, lastSeen] = row;
  if (typeof device !== 'string' || typeof metric !== 'string' || typeof lastSeen !== 'bigint') {
    throw new TypeError('DuckDB returned a row of an unexpected shape');
  }
  return { device, metric, lastSeen: Number(lastSeen) };
}

/** Batches up to this many points are written with one parameterised statement instead of the appender. */
const SMALL_BATCH_POINTS = 64;

// Explicit, so that an integral double such as 1e300 is not bound as a (too small) BIGINT.
const POINT_TYPES: readonly DuckDBType[] = [VARCHAR, VARCHAR, BIGINT, DOUBLE];

function pointParameters(point: StoredPoint): DuckDBValue[] {
  return [point.device, point.metric, BigInt(point.ts), point.value];
}

/**
 * A {@link TelemetryStore} in one embedded DuckDB file: for a single node, for
 * development, and for tests. Writes go through one connection, one batch at a
 * time, each batch one transaction; every query gets its own short-lived
 * connection and so reads the last committed state.
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
  readonly #writer: DuckDBConnection;
  /** Tail of the write queue: a write starts only after the previous one settled. */
  #writeQueue: Promise<void> = Promise.resolve();
  /** Operations that close() waits for before it releases the database. */
  readonly #pending = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  private constructor(instance: DuckDBInstance, writer: DuckDBConnection) {
    this.#instance = instance;
    this.#writer = writer;
  }

  /**
   * Opens (or creates) the database at `options.path` and its schema.
   *
   * @throws TelemetryError ERR_STORE_UNAVAILABLE when the file cannot be opened.
   */
  static async open(options: DuckDbStoreOptions): Promise<DuckDbStore> {
    let instance: DuckDBInstance | undefined;
    let writer: DuckDBConnection | undefined;
    try {
      instance = await DuckDBInstance.create(options.path);
      writer = await instance.connect();
      await writer.run(CREATE_READINGS_TABLE);
      await writer.run(CREATE_STAGING_TABLE);
      return new DuckDbStore(instance, writer);
    } catch (error) {
      writer?.closeSync();
      instance?.closeSync();
      throw unavailable('cannot open the DuckDB store', error);
    }
  }

  async write(readings: readonly Reading[]): Promise<void> {
    this.#assertOpen();
    const points = flattenReadings(readings);
    if (points.length === 0) return;
    const written = this.#writeQueue.then(() => this.#upsert(points));
    this.#writeQueue = written.catch(() => undefined);
    await this.#track(written);
  }

  async queryReadings(query: ReadingsQuery): Promise<Page<StoredPoint>> {
    this.#assertOpen();
    const limit = pageLimit(query.limit);
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query, query.cursor);
    const points = await this.#select(readingsStatement(query, cursor, limit + 1), pointFromRow);
    return keysetPage(query, points, limit);
  }

  async queryWindows(query: WindowedQuery): Promise<Page<WindowPoint>> {
    this.#assertOpen();
    const limit = pageLimit(query.limit);
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query, query.cursor);
    const statement = windowsStatement(query, query.windowMs, query.aggregate, cursor, limit + 1);
    const windows = await this.#select(statement, pointFromRow);
    return keysetPage(query, windows, limit);
  }

  async queryLatest(query: LatestQuery): Promise<readonly StoredPoint[]> {
    this.#assertOpen();
    return this.#select(latestStatement(query), pointFromRow);
  }

  async listSeries(): Promise<readonly SeriesInfo[]> {
    this.#assertOpen();
    return this.#select({ sql: LIST_SERIES, values: [], types: [] }, seriesFromRow);
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
    this.#writer.closeSync();
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

  /** Runs one query on a connection of its own, so reads never wait behind a write. */
  #select<T>(statement: DuckDbStatement, fromRow: (row: readonly DuckDBValue[]) => T): Promise<T[]> {
    return this.#track(
      (async () => {
        let connection: DuckDBConnection | undefined;
        try {
          connection = await this.#instance.connect();
          const reader = await connection.runAndReadAll(statement.sql, statement.values, statement.types);
          return reader.getRows().map(fromRow);
        } catch (error) {
          throw unavailable('DuckDB did not answer the query', error);
        } finally {
          connection?.closeSync();
        }
      })(),
    );
  }

  /**
   * Appends the batch to the staging table, then moves it into `readings` with
   * one upsert, all in one transaction: the appender is far faster than
   * parameterised VALUES for thousands of rows.
   */
  async #upsert(points: readonly StoredPoint[]): Promise<void> {
    const writer = this.#writer;
    if (points.length <= SMALL_BATCH_POINTS) {
      // One auto-committed statement: a lone device's message costs one round trip, not six.
      try {
        await writer.run(
          upsertValuesStatement(points.length),
          points.flatMap(pointParameters),
          points.flatMap(() => POINT_TYPES),
        );
        return;
      } catch (error) {
        throw unavailable('DuckDB did not accept the write', error);
      }
    }
    try {
      await writer.run('BEGIN TRANSACTION');
      await writer.run('DELETE FROM staging');
      const appender = await writer.createAppender('staging', 'main', 'temp');
      try {
        for (const point of points) {
          appender.appendVarchar(point.device);
          appender.appendVarchar(point.metric);
          appender.appendBigInt(BigInt(point.ts));
          appender.appendDouble(point.value);
          appender.endRow();
        }
      } finally {
        appender.closeSync();
      }
      await writer.run(UPSERT_FROM_STAGING);
      await writer.run('DELETE FROM staging');
      await writer.run('COMMIT');
    } catch (error) {
      // After a failed COMMIT DuckDB has already rolled back; this ROLLBACK then fails harmlessly.
      await writer.run('ROLLBACK').catch(() => undefined);
      throw unavailable('DuckDB did not accept the write', error);
    }
  }
}
