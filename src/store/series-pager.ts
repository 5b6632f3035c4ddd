import { decodeCursor, type PagedQuery } from './cursor.js';
import type { SeriesSlice } from './influxql.js';
import { keysetPage, pageLimit } from './keyset-page.js';
import type { Page, StoredPoint } from './telemetry-store.js';

/** Reads the points of each slice, oldest first, at most `slice.limit` each; one list per slice, in order. */
export type SliceReader<T extends StoredPoint> = (slices: readonly SeriesSlice[]) => Promise<T[][]>;

/** Most slices asked for in one round trip: InfluxQL takes them as statements of one request. */
export const SLICES_PER_REQUEST = 32;

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/**
 * Pages through (device, metric, ts) in that order for stores that can only read one series at a time in time
 * order: walks the (device, metric) pairs in sorted order, starting after the cursor's key, and reads each pair's
 * points until the page plus one extra point (which tells that more follow) is full.
 *
 * @param metrics The metrics to read when the query names none.
 * @param stepMs Distance from the cursor's `ts` to the next key: 1 for raw points, the window length for windows.
 * @param firstBatch Slices in the first request; each next request holds twice as many, up to 32.
 */
export async function pageSeries<T extends StoredPoint>(
  query: PagedQuery,
  metrics: readonly string[],
  stepMs: number,
  read: SliceReader<T>,
  firstBatch = 1,
): Promise<Page<T>> {
  const limit = pageLimit(query.limit);
  const after = query.cursor === undefined ? undefined : decodeCursor(query, query.cursor);
  const pairs: { device: string; metric: string; from: number }[] = [];
  for (const device of sortedUnique(query.devices)) {
    for (const metric of sortedUnique(query.metrics ?? metrics)) {
      if (after === undefined || device > after.device || (device === after.device && metric > after.metric)) {
        pairs.push({ device, metric, from: query.range.start });
      } else if (device === after.device && metric === after.metric) {
        pairs.push({ device, metric, from: Math.max(query.range.start, after.ts + stepMs) });
      }
    }
  }
  const rows: T[] = [];
  // Starts with one slice and doubles: a store that cannot stop at a limit (VictoriaMetrics' export) then reads
  // little past the page when the first series already fill it, and sparse series still travel 32 at a time.
  let batch = Math.min(firstBatch, SLICES_PER_REQUEST);
  for (
    let next = 0;
    next < pairs.length && rows.length <= limit;
    next += batch, batch = Math.min(2 * batch, SLICES_PER_REQUEST)
  ) {
    const wanted = limit + 1 - rows.length;
    const slices = pairs
      .slice(next, next + batch)
      .filter((pair) => pair.from < query.range.end)
      .map((pair) => ({ ...pair, end: query.range.end, limit: wanted }));
    if (slices.length === 0) continue;
    for (const points of await read(slices)) {
      rows.push(...points);
      if (rows.length > limit) break;
    }
  }
  return keysetPage(query, rows, limit);
}
