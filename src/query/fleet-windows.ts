import { TelemetryError } from '../errors.js';
import { decodeCursor } from '../store/cursor.js';
import { keysetPage, MAX_PAGE_LIMIT, pageLimit } from '../store/keyset-page.js';
import type { Aggregate, Page, TelemetryStore, WindowedQuery, WindowPoint } from '../store/telemetry-store.js';

/**
 * The store aggregates whose per-device windows combine exactly into the fleet's: a mean is the sum of the
 * sums over the sum of the counts, never a mean of means.
 */
const PARTS: Readonly<Record<Exclude<Aggregate, 'last'>, readonly Aggregate[]>> = {
  mean: ['sum', 'count'],
  min: ['min'],
  max: ['max'],
  sum: ['sum'],
  count: ['count'],
};

/** Every window of `query` with the aggregate `part`, from the first page to the last. */
async function everyWindow(store: TelemetryStore, query: WindowedQuery, part: Aggregate): Promise<WindowPoint[]> {
  const windows: WindowPoint[] = [];
  const { devices, devicePrefix, metrics, range, windowMs, originMs } = query;
  let cursor: string | undefined;
  do {
    const page = await store.queryWindows({
      devices,
      ...(devicePrefix === undefined ? {} : { devicePrefix }),
      ...(metrics === undefined ? {} : { metrics }),
      range,
      windowMs,
      aggregate: part,
      ...(originMs === undefined ? {} : { originMs }),
      limit: MAX_PAGE_LIMIT,
      ...(cursor === undefined ? {} : { cursor }),
    });
    windows.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return windows;
}

/**
 * Windows of a whole group of devices as one series per metric, named `label`: each window's aggregate over
 * the values of every device in it (mean, min, max, sum, count), computed from aggregates the store computes
 * per device, so no raw value travels to the node. Each page reads the group's windows again and pages them on
 * the node (the cursor is the usual one, of this query); `last` across devices is refused (a window's
 * per-device results carry no time to order them by).
 *
 * @throws TelemetryError ERR_QUERY_INVALID for `last`.
 */
export async function fleetWindows(
  store: TelemetryStore,
  query: WindowedQuery,
  label: string,
): Promise<Page<WindowPoint>> {
  const { aggregate } = query;
  if (aggregate === 'last') {
    throw new TelemetryError('ERR_QUERY_INVALID', 'aggregate last is not available across devices (group=fleet)');
  }
  const limit = pageLimit(query.limit);
  const after = query.cursor === undefined ? undefined : decodeCursor(query, query.cursor);
  const parts = await Promise.all(PARTS[aggregate].map((part) => everyWindow(store, query, part)));
  const combined = new Map<string, { metric: string; ts: number; values: number[] }>();
  parts.forEach((windows, index) => {
    for (const window of windows) {
      const key = `${window.metric}\u0000${window.ts}`;
      const entry = combined.get(key) ?? {
        metric: window.metric,
        ts: window.ts,
        values: PARTS[aggregate].map(() => Number.NaN),
      };
      const seen = entry.values[index] ?? Number.NaN;
      entry.values[index] = Number.isNaN(seen)
        ? window.value
        : combine(PARTS[aggregate][index] ?? aggregate, seen, window.value);
      combined.set(key, entry);
    }
  });
  const rows = [...combined.values()]
    .map(({ metric, ts, values }) => {
      const [first = Number.NaN, second = Number.NaN] = values;
      return { device: label, metric, ts, value: aggregate === 'mean' ? first / second : first };
    })
    .filter(
      (row) => after === undefined || row.metric > after.metric || (row.metric === after.metric && row.ts > after.ts),
    )
    .sort((a, b) => (a.metric === b.metric ? a.ts - b.ts : a.metric < b.metric ? -1 : 1));
  return keysetPage(query, rows.slice(0, limit + 1), limit);
}

function combine(part: Aggregate, a: number, b: number): number {
  if (part === 'min') return Math.min(a, b);
  if (part === 'max') return Math.max(a, b);
  return a + b;
}
