import { BIGINT, type DuckDBType, type DuckDBValue, LIST, listValue, VARCHAR } from '@duckdb/node-api';
import type { CursorKey } from './cursor.js';
import type { Aggregate, LatestQuery, ReadingsQuery, StoredPoint, TimeRange } from './telemetry-store.js';

/** A statement and its positional parameters, ready for `connection.run`. */
export interface DuckDbStatement {
  readonly sql: string;
  readonly values: DuckDBValue[];
  readonly types: DuckDBType[];
}

/** The schema: one row per value, identified by (device, metric, ts). */
export const CREATE_READINGS_TABLE = `CREATE TABLE IF NOT EXISTS readings (
  device VARCHAR NOT NULL,
  metric VARCHAR NOT NULL,
  ts BIGINT NOT NULL,
  value DOUBLE NOT NULL,
  PRIMARY KEY (device, metric, ts)
)`;

/** Per-connection staging table the appender fills before one upsert moves the batch. */
export const CREATE_STAGING_TABLE = `CREATE TEMP TABLE IF NOT EXISTS staging (
  device VARCHAR, metric VARCHAR, ts BIGINT, value DOUBLE
)`;

/** Moves the staged batch into `readings`; an existing (device, metric, ts) takes the new value. */
export const UPSERT_FROM_STAGING = `INSERT INTO readings (device, metric, ts, value)
  SELECT device, metric, ts, value FROM staging
  ON CONFLICT (device, metric, ts) DO UPDATE SET value = excluded.value`;

/**
 * SQL for each aggregate; the query's aggregate only ever selects one of
 * these, so no caller text reaches the statement.
 */
const AGGREGATE_SQL: Readonly<Record<Aggregate, string>> = {
  mean: 'avg(value)',
  min: 'min(value)',
  max: 'max(value)',
  sum: 'sum(value)',
  count: 'CAST(count(*) AS DOUBLE)',
  // ts is unique within a series, so the value at the greatest ts is well defined.
  last: 'arg_max(value, ts)',
};

/** Collects numbered parameters so fragments can be written in any order. */
class Parameters {
  readonly values: DuckDBValue[] = [];
  readonly types: DuckDBType[] = [];

  add(value: DuckDBValue, type: DuckDBType): string {
    this.values.push(value);
    this.types.push(type);
    return `$${this.values.length}`;
  }

  /**
   * `column` is one of `names`: an equality for a single name (which DuckDB filters in the scan: a page of one
   * device's readings 4.1 -> 3.3 ms at 259,200 rows), else `list_contains` (see {@link seriesFilters}).
   */
  oneOf(column: 'device' | 'metric', names: readonly string[]): string {
    const [only] = names;
    if (names.length === 1 && only !== undefined) return `${column} = ${this.add(only, VARCHAR)}`;
    return `list_contains(${this.add(listValue([...names]), LIST(VARCHAR))}, ${column})`;
  }
}

function assertTime(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what} must be an integer number of milliseconds`);
}

/** The filters shared by raw and windowed queries: devices, metrics and range. */
function seriesFilters(params: Parameters, query: ReadingsQuery, range: TimeRange): string[] {
  assertTime(range.start, 'range.start');
  assertTime(range.end, 'range.end');
  // list_contains, not `IN (SELECT unnest(...))`: the semi-join cost about twice as much per scanned row (1.2M
  // rows, 20 to 1,000 names: 20-30 ms against 40-60 ms).
  const where = [
    query.devicePrefix === undefined
      ? params.oneOf('device', query.devices)
      : `starts_with(device, ${params.add(query.devicePrefix, VARCHAR)})`,
  ];
  if (query.metrics !== undefined) where.push(params.oneOf('metric', query.metrics));
  where.push(`ts >= ${params.add(BigInt(range.start), BIGINT)}`, `ts < ${params.add(BigInt(range.end), BIGINT)}`);
  return where;
}

/** Keyset condition: rows strictly after (device, metric, ts) in that order. */
function after(params: Parameters, key: CursorKey, ts: bigint): string {
  const device = params.add(key.device, VARCHAR);
  const metric = params.add(key.metric, VARCHAR);
  const time = params.add(ts, BIGINT);
  // The plain `device >=` is what DuckDB can push into the scan (zone maps); the row comparison alone is not.
  return `device >= ${device} AND (device, metric, ts) > (${device}, ${metric}, ${time})`;
}

/** A series, by its device and metric. */
export interface SeriesKey {
  readonly device: string;
  readonly metric: string;
}

/**
 * How many raw points each series of the query holds after `cursor`, in (device, metric) order: one scan with
 * no sort, which tells how far into the series a page reaches before the page is read.
 */
export function seriesCountsStatement(query: ReadingsQuery, cursor: CursorKey | undefined): DuckDbStatement {
  const params = new Parameters();
  const where = seriesFilters(params, query, query.range);
  if (cursor !== undefined) where.push(after(params, cursor, BigInt(cursor.ts)));
  const sql = `SELECT device, metric, count(*) AS points FROM readings
    WHERE ${where.join(' AND ')}
    GROUP BY device, metric
    ORDER BY device, metric`;
  return { sql, values: params.values, types: params.types };
}

/**
 * The one series a query can read, when it names exactly one device and one metric: its page needs no count first
 * (a page of one device's metric: two statements, 6.7 ms, against one, 3.3 ms, at 259,200 rows).
 */
export function onlySeries(query: ReadingsQuery): SeriesKey | undefined {
  if (query.devicePrefix !== undefined || query.devices.length !== 1 || query.metrics?.length !== 1) return undefined;
  const [device] = query.devices;
  const [metric] = query.metrics;
  return device === undefined || metric === undefined ? undefined : { device, metric };
}

/**
 * Raw points after `cursor`, in (device, metric, ts) order, at most `fetch` rows; only of the series up to
 * `through` when given, so that the sort sees what the page needs rather than the rest of the range.
 *
 * A query of one series is sorted by `ts` alone and continues with `ts > cursor`: then DuckDB's top-N passes
 * its bound to the scan as it goes (a dynamic filter on `ts`), and the scan skips every row group past the
 * page by its zone map. A fleet writes in time order, so a series' page is a few row groups of the table, not
 * the whole range once per page: a page of one device's metric at 15.5 million rows written as a fleet writes
 * them took 26–34 ms sorted by (device, metric, ts) and 5.5 ms this way (docs/STORAGE.md, "Paging one series").
 */
export function readingsStatement(
  query: ReadingsQuery,
  cursor: CursorKey | undefined,
  fetch: number,
  through?: SeriesKey,
): DuckDbStatement {
  const params = new Parameters();
  const where = seriesFilters(params, query, query.range);
  const series = onlySeries(query);
  const inSeries = series !== undefined && (cursor === undefined || sameSeries(cursor, series));
  if (cursor !== undefined) {
    where.push(inSeries ? `ts > ${params.add(BigInt(cursor.ts), BIGINT)}` : after(params, cursor, BigInt(cursor.ts)));
  }
  if (through !== undefined && !inSeries) {
    const device = params.add(through.device, VARCHAR);
    const metric = params.add(through.metric, VARCHAR);
    where.push(`(device < ${device} OR (device = ${device} AND metric <= ${metric}))`);
  }
  const sql = `SELECT device, metric, ts, value FROM readings
    WHERE ${where.join(' AND ')}
    ORDER BY ${inSeries ? 'ts' : 'device, metric, ts'}
    LIMIT ${params.add(BigInt(fetch), BIGINT)}`;
  return { sql, values: params.values, types: params.types };
}

/**
 * The points of the cursor's series after it, by time, at most `fetch`, within the query's own filters (a cursor's
 * device and metric are the client's to forge, so they only narrow what the query selects): the page of a
 * question of several series that lies within one long series, read as one series is (see
 * {@link readingsStatement}) instead of counting every series of the range first.
 */
export function cursorSeriesStatement(query: ReadingsQuery, cursor: CursorKey, fetch: number): DuckDbStatement {
  const params = new Parameters();
  const where = seriesFilters(params, query, query.range);
  where.push(
    `device = ${params.add(cursor.device, VARCHAR)}`,
    `metric = ${params.add(cursor.metric, VARCHAR)}`,
    `ts > ${params.add(BigInt(cursor.ts), BIGINT)}`,
  );
  const sql = `SELECT device, metric, ts, value FROM readings
    WHERE ${where.join(' AND ')}
    ORDER BY ts
    LIMIT ${params.add(BigInt(fetch), BIGINT)}`;
  return { sql, values: params.values, types: params.types };
}

/** Whether `a` (a cursor's position, a counted series) is the series `b`. */
export function sameSeries(a: SeriesKey | undefined, b: SeriesKey): boolean {
  return a !== undefined && a.device === b.device && a.metric === b.metric;
}

/**
 * Windows aligned to `originMs` (the epoch by default) after `cursor`, at most `fetch` rows. The window start
 * is ts minus the floored modulo of its distance from the origin, which stays aligned before the origin too
 * (SQL `%` truncates toward zero).
 */
export function windowsStatement(
  query: ReadingsQuery,
  windowMs: number,
  aggregate: Aggregate,
  cursor: CursorKey | undefined,
  fetch: number,
  originMs = 0,
): DuckDbStatement {
  if (!Number.isSafeInteger(windowMs) || windowMs < 1) throw new RangeError('windowMs must be a positive integer');
  if (!Object.hasOwn(AGGREGATE_SQL, aggregate)) throw new RangeError('aggregate is not one the store knows');
  const params = new Parameters();
  const where = seriesFilters(params, query, query.range);
  if (cursor !== undefined) {
    // The next window of the cursor's series starts a whole window later, so
    // the keyset can filter raw rows before they are grouped.
    where.push(after(params, cursor, BigInt(cursor.ts) + BigInt(windowMs) - 1n));
  }
  assertTime(originMs, 'originMs');
  const w = params.add(BigInt(windowMs), BIGINT);
  const o = params.add(BigInt(originMs), BIGINT);
  const sql = `SELECT device, metric, ts - ((((ts - ${o}) % ${w}) + ${w}) % ${w}) AS window_start, ${AGGREGATE_SQL[aggregate]} AS value
    FROM readings
    WHERE ${where.join(' AND ')}
    GROUP BY device, metric, window_start
    ORDER BY device, metric, window_start
    LIMIT ${params.add(BigInt(fetch), BIGINT)}`;
  return { sql, values: params.values, types: params.types };
}

/** The newest point of each matching series; the prefix is matched literally, never as a LIKE pattern. */
export function latestStatement(query: LatestQuery): DuckDbStatement {
  const params = new Parameters();
  const where: string[] = [];
  if (query.devicePrefix !== undefined) where.push(`starts_with(device, ${params.add(query.devicePrefix, VARCHAR)})`);
  if (query.metrics !== undefined) where.push(params.oneOf('metric', query.metrics));
  const sql = `SELECT device, metric, max(ts) AS ts, arg_max(value, ts) AS value
    FROM readings
    ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
    GROUP BY device, metric
    ORDER BY device, metric`;
  return { sql, values: params.values, types: params.types };
}

/** Reads a `device, metric, ts, value` row; throws when DuckDB returned something else. */
export function pointFromRow(row: readonly DuckDBValue[]): StoredPoint {
  const [device, metric, ts, value] = row;
  if (typeof device !== 'string' || typeof metric !== 'string' || typeof ts !== 'bigint' || typeof value !== 'number') {
    throw new TypeError('DuckDB returned a row of an unexpected shape');
  }
  return { device, metric, ts: Number(ts), value };
}
