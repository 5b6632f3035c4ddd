import {
  type CursorKey,
  type CursorPosition,
  encodeCursor,
  MAX_SERIES_AHEAD,
  type PagedQuery,
  type SeriesAhead,
} from './cursor.js';
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

/**
 * What the next page's cursor tells of the series after it (see {@link CursorPosition}): the page's last series
 * with the points `counts` leave of it after the page, then the series counted after that one. `counts` are
 * consecutive series in the answer's order, each with its points in what the page read of it; undefined when
 * the page's last series is not among them.
 */
export function aheadAfter(items: readonly CursorKey[], counts: readonly SeriesAhead[]): SeriesAhead[] | undefined {
  const last = items.at(-1);
  if (last === undefined) return undefined;
  const at = counts.findIndex((series) => series.device === last.device && series.metric === last.metric);
  const counted = counts[at];
  if (counted === undefined) return undefined;
  let onPage = 0;
  for (let index = items.length - 1; index >= 0; index--) {
    const item = items[index] as CursorKey;
    if (item.device !== last.device || item.metric !== last.metric) break;
    onPage++;
  }
  const left = { ...counted, points: Math.max(0, counted.points - onPage) };
  return [left, ...counts.slice(at + 1, at + MAX_SERIES_AHEAD)];
}
