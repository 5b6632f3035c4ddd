import { type CursorKey, type CursorPosition, encodeCursor, type PagedQuery, type SeriesAhead } from './cursor.js';
import type { Page } from './telemetry-store.js';

/** The largest page any store returns, whatever limit the query asks for. */
export const MAX_PAGE_LIMIT = 100_000;

/**
 * The page size to use for a query's `limit`: capped at {@link MAX_PAGE_LIMIT}.
 *
 * @throws RangeError when `limit` is not a positive integer.
 */
export function pageLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError('limit must be a positive integer');
  }
  return Math.min(limit, MAX_PAGE_LIMIT);
}

/**
 * Turns rows fetched with `LIMIT pageLimit + 1` into a page: the extra row, when
 * present, only tells that more follow, and the cursor points after the last
 * row returned (with `ahead`, the series after it and their points, when the
 * store counted them: see {@link CursorPosition}).
 *
 * @example
 * ```ts
 * const limit = pageLimit(query.limit);
 * const rows = await fetchAfter(cursorKey, limit + 1);
 * return keysetPage(query, rows, limit);
 * ```
 */
export function keysetPage<T extends CursorKey>(
  query: PagedQuery,
  rows: readonly T[],
  limit: number,
  ahead?: readonly SeriesAhead[],
): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  if (rows.length <= limit || last === undefined) return { items };
  return { items, nextCursor: encodeCursor(query, last, ahead) };
}
