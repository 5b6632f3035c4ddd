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
/** Longer than any cursor we make (two 64-character names, a time and a fingerprint). */
const MAX_CURSOR_LENGTH = 512;
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

/**
 * A position in a query's answer, and what the page that ended there knew of what follows: how many points of the
 * position's series come after it (`seriesLeft`), when the store counted them. A hint only, for the store to size
 * its next read: a store checks what it reads, so a wrong one (the client's own, or stale) costs time, never
 * a point.
 */
export interface CursorPosition extends CursorKey {
  readonly seriesLeft?: number;
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
export function encodeCursor(query: PagedQuery, last: CursorKey, seriesLeft?: number): string {
  const body = {
    v: CURSOR_VERSION,
    q: fingerprint(query),
    d: last.device,
    m: last.metric,
    t: last.ts,
    ...(seriesLeft === undefined ? {} : { r: seriesLeft }),
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
    (body.r !== undefined && (typeof body.r !== 'number' || !Number.isSafeInteger(body.r) || body.r < 0))
  ) {
    throw new InvalidCursorError('cursor has an unexpected shape');
  }
  if (body.q !== fingerprint(query)) {
    throw new InvalidCursorError('cursor belongs to another query');
  }
  const key = { device: body.d, metric: body.m, ts: body.t };
  return typeof body.r === 'number' ? { ...key, seriesLeft: body.r } : key;
}
