import { TelemetryError } from '../errors.js';
import { hasControlCharacter } from './line-protocol.js';
import type { Aggregate } from './telemetry-store.js';

function refuseControlCharacters(value: string): void {
  if (hasControlCharacter(value)) {
    throw new TelemetryError('ERR_STORE_REJECTED', 'a name in a query holds a control character');
  }
}

/** Quotes an InfluxQL identifier: `"` and `\` are escaped with a backslash (InfluxQL spec, "Identifiers"). */
function quoteIdentifier(name: string): string {
  refuseControlCharacters(name);
  return `"${name.replace(/[\\"]/g, (character) => `\\${character}`)}"`;
}

/** Quotes an InfluxQL string literal: `'` and `\` are escaped with a backslash (InfluxQL spec, "Strings"). */
function quoteString(value: string): string {
  refuseControlCharacters(value);
  return `'${value.replace(/[\\']/g, (character) => `\\${character}`)}'`;
}

/** An InfluxQL regular expression literal matching names that start with `prefix`, every character taken literally. */
function prefixRegex(prefix: string): string {
  refuseControlCharacters(prefix);
  return `/^${prefix.replace(/[\\^$.*+?()[\]{}|/]/g, (character) => `\\${character}`)}/`;
}

const FUNCTIONS: Readonly<Record<Aggregate, string>> = {
  mean: 'MEAN',
  min: 'MIN',
  max: 'MAX',
  sum: 'SUM',
  count: 'COUNT',
  last: 'LAST',
};

/** One (device, metric) series read from `from` (inclusive) to `end` (exclusive), at most `limit` rows. */
export interface SeriesSlice {
  readonly device: string;
  readonly metric: string;
  readonly from: number;
  readonly end: number;
  readonly limit: number;
  /**
   * The slice's points in `[from, end)` as the page before counted them (carried by the cursor, see
   * `CursorPosition`): a hint a store may size its reads by, never what it returns. It can fall short (points
   * arrived since) or be anything at all (a client's forged cursor).
   */
  readonly counted?: number;
}

function where(measurement: string, slice: SeriesSlice): string {
  return `FROM ${quoteIdentifier(measurement)} WHERE "device" = ${quoteString(slice.device)} AND time >= ${Math.trunc(slice.from)}ms AND time < ${Math.trunc(slice.end)}ms`;
}

/** Raw values of one metric of one device, oldest first. */
export function selectRawStatement(measurement: string, slice: SeriesSlice): string {
  return `SELECT ${quoteIdentifier(slice.metric)} ${where(measurement, slice)} ORDER BY time ASC LIMIT ${slice.limit}`;
}

/**
 * Windows of one metric of one device, aligned to `originMs` (the epoch by default). `fill(none)` leaves out windows without values; every
 * selector or aggregate with GROUP BY time reports the window start as the row's time.
 */
export function selectWindowsStatement(
  measurement: string,
  slice: SeriesSlice,
  windowMs: number,
  aggregate: Aggregate,
  originMs = 0,
): string {
  const call = `${FUNCTIONS[aggregate]}(${quoteIdentifier(slice.metric)})`;
  const w = Math.trunc(windowMs);
  // InfluxQL's offset moves the boundaries forward from the epoch by less than one window.
  const offset = ((Math.trunc(originMs) % w) + w) % w;
  const group = offset === 0 ? `time(${w}ms)` : `time(${w}ms, ${offset}ms)`;
  return `SELECT ${call} ${where(measurement, slice)} GROUP BY ${group} fill(none) LIMIT ${slice.limit}`;
}

/**
 * The newest value of one metric per device. One statement per metric, because with several selectors in one
 * statement InfluxQL reports time 0 instead of the time of the selected point.
 */
export function selectLatestStatement(measurement: string, metric: string, devicePrefix?: string): string {
  const filter =
    devicePrefix === undefined || devicePrefix === '' ? '' : ` WHERE "device" =~ ${prefixRegex(devicePrefix)}`;
  return `SELECT LAST(${quoteIdentifier(metric)}) FROM ${quoteIdentifier(measurement)}${filter} GROUP BY "device"`;
}

/** Every field key (metric) of the measurement. */
export function showFieldKeysStatement(measurement: string): string {
  return `SHOW FIELD KEYS FROM ${quoteIdentifier(measurement)}`;
}

/** One series of an InfluxQL answer. */
export interface InfluxqlSeries {
  readonly tags: Readonly<Record<string, string>>;
  readonly columns: readonly string[];
  readonly values: readonly (readonly unknown[])[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toSeries(value: unknown): InfluxqlSeries {
  if (!isRecord(value) || !Array.isArray(value.columns) || !Array.isArray(value.values)) {
    throw new TelemetryError('ERR_STORE_UNAVAILABLE', 'store answered a query with an unexpected shape');
  }
  const tags: Record<string, string> = {};
  if (isRecord(value.tags)) {
    for (const [key, tag] of Object.entries(value.tags)) if (typeof tag === 'string') tags[key] = tag;
  }
  const rows = value.values.filter((row): row is unknown[] => Array.isArray(row));
  return { tags, columns: value.columns.map(String), values: rows };
}

/**
 * Splits the JSON answer of `/query` into one list of series per statement. A statement error (the server
 * answers 200 with `results[i].error`) becomes ERR_STORE_REJECTED: the query itself was refused.
 */
export function parseInfluxqlAnswer(answer: unknown, statements: number): InfluxqlSeries[][] {
  if (!isRecord(answer) || !Array.isArray(answer.results)) {
    throw new TelemetryError('ERR_STORE_UNAVAILABLE', 'store answered a query with an unexpected shape');
  }
  const perStatement: InfluxqlSeries[][] = Array.from({ length: statements }, () => []);
  for (const result of answer.results) {
    if (!isRecord(result)) continue;
    if (typeof result.error === 'string') {
      throw new TelemetryError('ERR_STORE_REJECTED', 'store refused a query statement', { cause: result.error });
    }
    const index = typeof result.statement_id === 'number' ? result.statement_id : 0;
    const series = Array.isArray(result.series) ? result.series.map(toSeries) : [];
    perStatement[index]?.push(...series);
  }
  return perStatement;
}

/** The `[time, value]` rows of a series whose value is a number (nulls left out). */
export function numericRows(series: InfluxqlSeries): { ts: number; value: number }[] {
  const rows: { ts: number; value: number }[] = [];
  for (const [ts, value] of series.values) {
    if (typeof ts === 'number' && typeof value === 'number') rows.push({ ts, value });
  }
  return rows;
}
