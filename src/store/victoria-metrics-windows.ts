import { TelemetryError } from '../errors.js';
import type { SeriesSlice } from './influxql.js';
import type { Aggregate, StoredPoint } from './telemetry-store.js';
import { seriesSelector, toSeconds, type VictoriaMetricsNaming } from './victoria-metrics-queries.js';

/** The MetricsQL rollup that computes each aggregate over a lookbehind window. */
const ROLLUPS: Readonly<Record<Aggregate, string>> = {
  mean: 'avg_over_time',
  min: 'min_over_time',
  max: 'max_over_time',
  sum: 'sum_over_time',
  count: 'count_over_time',
  last: 'last_over_time',
};

/**
 * Most evaluation steps one `query_range` asks for: below VictoriaMetrics' `-search.maxPointsPerTimeseries`
 * (30,000 by default), so a long range is asked for in several requests.
 */
export const MAX_STEPS_PER_REQUEST = 10_000;

/** One `/api/v1/query_range` request: evaluation times `start, start + step, ... ≤ end`, each with its lookbehind. */
interface RangeRequest {
  readonly metric: string;
  readonly devices: readonly string[];
  /** First evaluation time, ms. */
  readonly start: number;
  /** Last evaluation time, ms (inclusive). */
  readonly end: number;
  readonly stepMs: number;
  /** Lookbehind of each evaluation: the points in (t - lookbehindMs, t]. */
  readonly lookbehindMs: number;
}

/** How windows are cut: their length, what each aggregates, and where they are aligned. */
export interface WindowPlan {
  readonly windowMs: number;
  readonly aggregate: Aggregate;
  readonly originMs: number;
}

function floorTo(ts: number, windowMs: number, originMs: number): number {
  return originMs + Math.floor((ts - originMs) / windowMs) * windowMs;
}

/**
 * The evaluations that give the windows of `[from, end)` aligned to `originMs`, as InfluxQL's `GROUP BY time()` and
 * DuckDB compute them. VictoriaMetrics' rollups at time t see the points in (t - d, t]: evaluated at the last
 * millisecond of a window, `ws + w - 1`, with `d = w` they see exactly `[ws, ws + w)` (timestamps are whole
 * milliseconds). A window cut by the range (the first one, when `from` is not a window start, and the last one,
 * when `end` is not) is evaluated on its own, at the last millisecond inside the range and with a lookbehind
 * that stops at the range, so points outside the range never count.
 */
function windowEvaluations(
  from: number,
  end: number,
  windowMs: number,
  originMs: number,
): {
  readonly edges: readonly { at: number; lookbehindMs: number }[];
  readonly full?: { first: number; last: number };
} {
  const edges: { at: number; lookbehindMs: number }[] = [];
  const firstWindow = floorTo(from, windowMs, originMs);
  const lastWindow = floorTo(end - 1, windowMs, originMs);
  let firstFull = firstWindow;
  let lastFull = lastWindow;
  if (firstWindow < from) {
    const at = Math.min(firstWindow + windowMs, end) - 1;
    edges.push({ at, lookbehindMs: at - from + 1 });
    firstFull = firstWindow + windowMs;
  }
  if (lastWindow + windowMs > end && lastWindow >= from) {
    edges.push({ at: end - 1, lookbehindMs: end - lastWindow });
    lastFull = lastWindow - windowMs;
  }
  if (firstFull > lastFull) return { edges };
  return { edges, full: { first: firstFull, last: lastFull } };
}

/** Matches exactly these device ids (VictoriaMetrics anchors label regexes). */
function devicesSelector(naming: VictoriaMetricsNaming, metric: string, devices: readonly string[]): string {
  if (devices.length === 1 && devices[0] !== undefined) return seriesSelector(naming, metric, { equals: devices[0] });
  return seriesSelector(naming, metric, { oneOf: devices });
}

/**
 * The path of one `query_range`. `nocache=1` matters: with the response cache on, VictoriaMetrics rounds `start`
 * down to a multiple of `step` when a query spans more than 50 steps, which would move every window.
 */
function queryRangePath(naming: VictoriaMetricsNaming, request: RangeRequest, aggregate: Aggregate): string {
  const selector = devicesSelector(naming, request.metric, request.devices);
  const params = new URLSearchParams({
    query: `${ROLLUPS[aggregate]}(${selector}[${request.lookbehindMs}ms])`,
    start: toSeconds(request.start),
    end: toSeconds(request.end),
    step: `${request.stepMs}ms`,
    nocache: '1',
  });
  return `/api/v1/query_range?${params}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a `query_range` answer (`resultType: matrix`) into (device, evaluation time in ms, value) triples. */
function parseMatrix(answer: unknown): { device: string; at: number; value: number }[] {
  const data = isRecord(answer) && isRecord(answer.data) ? answer.data : undefined;
  if (data === undefined || !Array.isArray(data.result)) {
    throw new TelemetryError('ERR_STORE_UNAVAILABLE', 'store answered a query with an unexpected shape');
  }
  const triples: { device: string; at: number; value: number }[] = [];
  for (const item of data.result) {
    if (!isRecord(item) || !isRecord(item.metric) || !Array.isArray(item.values)) continue;
    const device = item.metric.device;
    if (typeof device !== 'string') continue;
    for (const pair of item.values) {
      if (!Array.isArray(pair)) continue;
      const [seconds, text] = pair;
      const value = Number(text);
      if (typeof seconds === 'number' && Number.isFinite(value)) {
        triples.push({ device, at: Math.round(seconds * 1_000), value });
      }
    }
  }
  return triples;
}

/**
 * Groups slices that can share one request: same metric and same start (only a slice resumed from a cursor
 * starts elsewhere). All slices of one page end at the query's end.
 */
export function groupSlices(slices: readonly SeriesSlice[]): SeriesSlice[][] {
  const groups = new Map<string, SeriesSlice[]>();
  for (const slice of slices) {
    const key = JSON.stringify([slice.metric, slice.from, slice.end]);
    const group = groups.get(key) ?? [];
    group.push(slice);
    groups.set(key, group);
  }
  return [...groups.values()];
}

/** Asks the store for one group's windows; `ask` sends one request path and returns its JSON. */
export async function readGroupWindows(
  naming: VictoriaMetricsNaming,
  group: readonly SeriesSlice[],
  plan: WindowPlan,
  ask: (path: string) => Promise<unknown>,
): Promise<Map<string, StoredPoint[]>> {
  const { windowMs, aggregate, originMs } = plan;
  const first = group[0];
  const byDevice = new Map<string, StoredPoint[]>(group.map((slice) => [slice.device, []]));
  if (first === undefined) return byDevice;
  const { metric, from, end } = first;
  const devices = group.map((slice) => slice.device);
  const limit = Math.max(...group.map((slice) => slice.limit));
  const add = (triples: readonly { device: string; at: number; value: number }[]): void => {
    for (const { device, at, value } of triples) {
      byDevice.get(device)?.push({ device, metric, ts: floorTo(at, windowMs, originMs), value });
    }
  };
  const { edges, full } = windowEvaluations(from, end, windowMs, originMs);
  for (const edge of edges) {
    const request: RangeRequest = {
      metric,
      devices,
      start: edge.at,
      end: edge.at,
      stepMs: windowMs,
      lookbehindMs: edge.lookbehindMs,
    };
    add(parseMatrix(await ask(queryRangePath(naming, request, aggregate))));
  }
  if (full !== undefined) {
    // Ask a chunk of steps at a time, until every slice has its page or the range is done.
    for (let chunk = full.first; chunk <= full.last; chunk += MAX_STEPS_PER_REQUEST * windowMs) {
      const last = Math.min(full.last, chunk + (MAX_STEPS_PER_REQUEST - 1) * windowMs);
      const request: RangeRequest = {
        metric,
        devices,
        start: chunk + windowMs - 1,
        end: last + windowMs - 1,
        stepMs: windowMs,
        lookbehindMs: windowMs,
      };
      add(parseMatrix(await ask(queryRangePath(naming, request, aggregate))));
      if ([...byDevice.values()].every((points) => points.length >= limit)) break;
    }
  }
  for (const points of byDevice.values()) points.sort((a, b) => a.ts - b.ts);
  return byDevice;
}
