import { decodeCursor, type PagedQuery } from './cursor.js';
import type { SeriesSlice } from './influxql.js';
import { aheadAfter, keysetPage, pageLimit } from './keyset-page.js';
import type { Page, StoredPoint } from './telemetry-store.js';

/** What one read of several slices found. */
export interface SlicesRead<T extends StoredPoint> {
  /** The points of each slice, oldest first, at most `slice.limit` each; one list per slice, in order. */
  readonly points: T[][];
  /**
   * Per slice, its points in `[from, end)` where the store counted them for this read (or sized it by the slice's
   * own `counted`); undefined, or missing, where it did not. The next page's cursor carries them on.
   */
  readonly counted?: readonly (number | undefined)[];
}

/** Reads the points of each slice, oldest first, at most `slice.limit` each. */
export type SliceReader<T extends StoredPoint> = (slices: readonly SeriesSlice[]) => Promise<SlicesRead<T>>;

/** Most slices asked for in one round trip: InfluxQL takes them as statements of one request. */
export const SLICES_PER_REQUEST = 32;

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

function seriesKey(device: string, metric: string): string {
  return JSON.stringify([device, metric]);
}

interface Pair {
  readonly device: string;
  readonly metric: string;
  readonly from: number;
  readonly counted?: number;
}

/**
 * Pages through (device, metric, ts) in that order for stores that can only read one series at a time in time
 * order: walks the (device, metric) pairs in sorted order, starting after the cursor's key, and reads each pair's
 * points until the page plus one extra point (which tells that more follow) is full.
 *
 * Where the reader says how many points the slices it read hold, the next page's cursor carries that on (the page's
 * last series with what is left of it after the page, then the series after it, as `CursorPosition.ahead` says), and
 * the next page hands each series its count as `SeriesSlice.counted`, so a store that must count before it reads
 * (VictoriaMetrics' export cannot stop at a limit) need not count again.
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
  const hints = new Map(after?.ahead?.map((series) => [seriesKey(series.device, series.metric), series.points]));
  const pairs: Pair[] = [];
  const add = (device: string, metric: string, from: number) => {
    const counted = hints.get(seriesKey(device, metric));
    pairs.push(counted === undefined ? { device, metric, from } : { device, metric, from, counted });
  };
  for (const device of sortedUnique(query.devices)) {
    for (const metric of sortedUnique(query.metrics ?? metrics)) {
      if (after === undefined || device > after.device || (device === after.device && metric > after.metric)) {
        add(device, metric, query.range.start);
      } else if (device === after.device && metric === after.metric) {
        add(device, metric, Math.max(query.range.start, after.ts + stepMs));
      }
    }
  }
  const rows: T[] = [];
  /** Points of each pair in its range, where a read counted them. */
  const counted: (number | undefined)[] = [];
  // Starts with one slice and doubles: a store that cannot stop at a limit (VictoriaMetrics' export) then reads
  // little past the page when the first series already fill it, and sparse series still travel 32 at a time.
  let batch = Math.min(firstBatch, SLICES_PER_REQUEST);
  for (
    let next = 0;
    next < pairs.length && rows.length <= limit;
    next += batch, batch = Math.min(2 * batch, SLICES_PER_REQUEST)
  ) {
    const wanted = limit + 1 - rows.length;
    const indices: number[] = [];
    const slices: SeriesSlice[] = [];
    for (let index = next; index < Math.min(next + batch, pairs.length); index++) {
      const pair = pairs[index] as Pair;
      if (pair.from >= query.range.end) continue;
      indices.push(index);
      slices.push({ ...pair, end: query.range.end, limit: wanted });
    }
    if (slices.length === 0) continue;
    const found = await read(slices);
    for (const [position, index] of indices.entries()) counted[index] = found.counted?.[position];
    for (const points of found.points) {
      rows.push(...points);
      if (rows.length > limit) break;
    }
  }
  // The pairs the reads counted: consecutive in the answer's order (every pair of a read is counted, or none).
  const counts = pairs.flatMap((pair, index) => {
    const points = counted[index];
    return points === undefined ? [] : [{ device: pair.device, metric: pair.metric, points }];
  });
  return keysetPage(query, rows, limit, aheadAfter(rows.slice(0, limit), counts));
}
