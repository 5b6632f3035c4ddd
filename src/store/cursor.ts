import { createHash } from 'node:crypto';
import type { ReadingsQuery, WindowedQuery } from './telemetry-store.js';

/** A query that returns pages: raw readings or windowed aggregates. */
export type PagedQuery = ReadingsQuery | WindowedQuery;

/** The sort key of the last item on a page; `ts` is the window start for windowed queries. */
export interface CursorKey {
  readonly device: string;
  readonly metric: string;
  readonly ts: number;
}

/** Raised when a cursor is malformed or belongs to another query. */
export class InvalidCursorError extends Error {
  readonly code = 'ERR_CURSOR_INVALID';

  constructor(message: string, options: { readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'InvalidCursorError';
  }
}

const CURSOR_VERSION = 1;
/** Longer than any cursor we make (two 64-character names, a time, a fingerprint and MAX_SERIES_AHEAD series). */
const MAX_CURSOR_LENGTH = 2_048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Fingerprints what a query selects, but not its page size or position: the
 * devices (or their prefix) and metrics as sets, the range, and the window and aggregate. Two
 * queries with the same fingerprint return the same rows in the same order.
 */
function fingerprint(query: PagedQuery): string {
  const canonical = JSON.stringify([
    query.devicePrefix === undefined ? [...new Set(query.devices)].sort() : { prefix: query.devicePrefix },
    query.metrics === undefined ? null : [...new Set(query.metrics)].sort(),
    query.range.start,
    query.range.end,
    'windowMs' in query ? query.windowMs : null,
    'aggregate' in query ? query.aggregate : null,
    ...('originMs' in query && query.originMs !== undefined && query.originMs !== 0 ? [query.originMs] : []),
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

/** A series after a cursor's position and how many of its points the store counted there. */
export interface SeriesAhead {
  readonly device: string;
  readonly metric: string;
  readonly points: number;
}

/** The most series a cursor tells of (see {@link CursorPosition}); with the longest names it stays within the cursor's length. */
export const MAX_SERIES_AHEAD = 8;

/**
 * A position in a query's answer, and what the page that ended there knew of what follows (`ahead`): the
 * position's own series with the points left in it after the position, then the next series in order with
 * theirs, as the store counted them for that page. A hint only, for the store to plan its next read without
 * counting again: points are only ever added, so a count can only fall short of what is there, and a store
 * checks that it read more than a page before it trusts the plan, so a wrong one (the client's own) costs
 * time, never a point.
 */
export interface CursorPosition extends CursorKey {
  readonly ahead?: readonly SeriesAhead[];
}

/**
 * Makes the opaque cursor that continues `query` after `last`.
 *
 * The cursor is self-contained (any node can continue the query) and not
 * signed: a client that forges one can only move its own position within the
 * same query, because the query's filters still apply.
 *
 * @example
 * ```ts
 * const nextCursor = encodeCursor(query, { device: 'pump-1', metric: 'temp', ts: 1_700_000_000_000 });
 * ```
 */
export function encodeCursor(query: PagedQuery, last: CursorKey, ahead?: readonly SeriesAhead[]): string {
  const body = {
    v: CURSOR_VERSION,
    q: fingerprint(query),
    d: last.device,
    m: last.metric,
    t: last.ts,
    ...(ahead === undefined || ahead.length === 0
      ? {}
      : { a: ahead.slice(0, MAX_SERIES_AHEAD).map((series) => [series.device, series.metric, series.points]) }),
  };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Reads back the sort key from a cursor made by {@link encodeCursor} for the same query.
 *
 * @throws InvalidCursorError when the cursor is malformed or was made for another query.
 */
export function decodeCursor(query: PagedQuery, cursor: string): CursorPosition {
  if (cursor.length > MAX_CURSOR_LENGTH || !BASE64URL.test(cursor)) {
    throw new InvalidCursorError('cursor is not a base64url string of a plausible length');
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    throw new InvalidCursorError('cursor does not hold JSON', { cause: error });
  }
  if (
    !isRecord(body) ||
    body.v !== CURSOR_VERSION ||
    typeof body.q !== 'string' ||
    typeof body.d !== 'string' ||
    typeof body.m !== 'string' ||
    typeof body.t !== 'number' ||
    !Number.isSafeInteger(body.t) ||
    (body.a !== undefined && !isSeriesAhead(body.a))
  ) {
    throw new InvalidCursorError('cursor has an unexpected shape');
  }
  if (body.q !== fingerprint(query)) {
    throw new InvalidCursorError('cursor belongs to another query');
  }
  const key = { device: body.d, metric: body.m, ts: body.t };
  if (!isSeriesAhead(body.a)) return key;
  return { ...key, ahead: body.a.map(([device, metric, points]) => ({ device, metric, points })) };
}

/** Whether `value` is a cursor's list of series ahead: at most MAX_SERIES_AHEAD `[device, metric, points]`. */
function isSeriesAhead(value: unknown): value is [string, string, number][] {
  return (
    Array.isArray(value) &&
    value.length <= MAX_SERIES_AHEAD &&
    value.every(
      (entry) =>
        Array.isArray(entry) &&
        entry.length === 3 &&
        typeof entry[0] === 'string' &&
        typeof entry[1] === 'string' &&
        Number.isSafeInteger(entry[2]) &&
        (entry[2] as number) >= 0,
    )
  );
}
