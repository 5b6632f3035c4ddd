import { TelemetryError } from '../errors.js';
import type { SeriesSlice } from './influxql.js';
import { hasControlCharacter } from './line-protocol.js';
import type { Aggregate, StoredPoint } from './telemetry-store.js';

/**
 * How VictoriaMetrics names what InfluxDB line protocol wrote: each field becomes a series named
 * `<measurement>_<field>` with the tags as labels, and writes to the 1.x `/write?db=` endpoint add a `db` label
 * (writes to `/api/v2/write` add none, so `db` must be empty).
 */
export interface VictoriaMetricsNaming {
  readonly measurement: string;
  /** The `db` label value: the database for `/write`, `''` for `/api/v2/write`. */
  readonly db: string;
}

/** Quotes a MetricsQL label value: a double-quoted string with `\` and `"` escaped. */
function quoteLabelValue(value: string): string {
  if (hasControlCharacter(value)) {
    throw new TelemetryError('ERR_STORE_REJECTED', 'a name in a query holds a control character');
  }
  return `"${value.replace(/[\\"]/g, (character) => `\\${character}`)}"`;
}

/** Quotes a value for use inside a MetricsQL regex label matcher, matching it literally. */
function regexLiteral(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|]/g, (character) => `\\${character}`);
}

/** The series selector of one metric (or of every metric, when `metric` is undefined) of the measurement. */
export function seriesSelector(
  naming: VictoriaMetricsNaming,
  metric: string | undefined,
  device: { readonly equals: string } | { readonly prefix: string } | { readonly oneOf: readonly string[] } | undefined,
): string {
  const name =
    metric === undefined
      ? `__name__=~${quoteLabelValue(`${regexLiteral(naming.measurement)}_.+`)}`
      : `__name__=${quoteLabelValue(`${naming.measurement}_${metric}`)}`;
  const labels = [name, `db=${quoteLabelValue(naming.db)}`];
  if (device !== undefined && 'equals' in device) labels.push(`device=${quoteLabelValue(device.equals)}`);
  if (device !== undefined && 'prefix' in device && device.prefix !== '') {
    labels.push(`device=~${quoteLabelValue(`${regexLiteral(device.prefix)}.*`)}`);
  }
  if (device !== undefined && 'oneOf' in device) {
    labels.push(`device=~${quoteLabelValue(device.oneOf.map(regexLiteral).join('|'))}`);
  }
  return `{${labels.join(',')}}`;
}

/** The metric a series name stands for, or undefined when it is not one of the measurement's. */
export function metricOfSeriesName(naming: VictoriaMetricsNaming, name: string): string | undefined {
  const prefix = `${naming.measurement}_`;
  return name.startsWith(prefix) && name.length > prefix.length ? name.slice(prefix.length) : undefined;
}

/** Seconds with millisecond decimals, the time format VictoriaMetrics' HTTP API accepts. */
export function toSeconds(ms: number): string {
  return (ms / 1_000).toFixed(3);
}

/**
 * `/api/v1/export` of the slices' series from the earliest slice start. `end` is inclusive there, so the last
 * millisecond asked for is `end - 1`.
 */
export function exportPath(naming: VictoriaMetricsNaming, slices: readonly SeriesSlice[]): string {
  const params = new URLSearchParams();
  for (const slice of slices) params.append('match[]', seriesSelector(naming, slice.metric, { equals: slice.device }));
  params.set('start', toSeconds(Math.min(...slices.map((slice) => slice.from))));
  params.set('end', toSeconds(Math.max(...slices.map((slice) => slice.end)) - 1));
  return `/api/v1/export?${params}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses export's JSON lines into points, sorted by device, metric, ts. */
export function parseExport(naming: VictoriaMetricsNaming, text: string): StoredPoint[] {
  const points: StoredPoint[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const row: unknown = JSON.parse(line);
    if (!isRecord(row) || !isRecord(row.metric) || !Array.isArray(row.values) || !Array.isArray(row.timestamps)) {
      throw new TelemetryError('ERR_STORE_UNAVAILABLE', 'store answered an export with an unexpected shape');
    }
    const { __name__: name, device } = row.metric;
    const metric = typeof name === 'string' ? metricOfSeriesName(naming, name) : undefined;
    if (metric === undefined || typeof device !== 'string') continue;
    const values: unknown[] = row.values;
    row.timestamps.forEach((ts: unknown, index) => {
      const value = values[index];
      if (typeof ts === 'number' && typeof value === 'number') points.push({ device, metric, ts, value });
    });
  }
  return points.sort(compareKeys);
}

/** Orders points by device, metric, ts. */
export function compareKeys(a: StoredPoint, b: StoredPoint): number {
  if (a.device !== b.device) return a.device < b.device ? -1 : 1;
  if (a.metric !== b.metric) return a.metric < b.metric ? -1 : 1;
  return a.ts - b.ts;
}

/** The points of one slice, within its bounds, at most its limit. */
export function pointsOfSlice(points: readonly StoredPoint[], slice: SeriesSlice): StoredPoint[] {
  return points
    .filter((p) => p.device === slice.device && p.metric === slice.metric && p.ts >= slice.from && p.ts < slice.end)
    .slice(0, slice.limit);
}

/**
 * Aggregates the points of one series (sorted by ts) into windows of `windowMs` aligned to `originMs`, leaving out
 * windows without points, as InfluxQL's `GROUP BY time(...) fill(none)` does.
 */
export function aggregateWindows(
  points: readonly StoredPoint[],
  windowMs: number,
  aggregate: Aggregate,
  originMs = 0,
): StoredPoint[] {
  const windows: StoredPoint[] = [];
  let values: number[] = [];
  let start: number | undefined;
  const close = (): void => {
    const first = points[0];
    if (start === undefined || first === undefined || values.length === 0) return;
    windows.push({ device: first.device, metric: first.metric, ts: start, value: reduce(values, aggregate) });
  };
  for (const point of points) {
    const windowStart = originMs + Math.floor((point.ts - originMs) / windowMs) * windowMs;
    if (windowStart !== start) {
      close();
      start = windowStart;
      values = [];
    }
    values.push(point.value);
  }
  close();
  return windows;
}

function reduce(values: readonly number[], aggregate: Aggregate): number {
  switch (aggregate) {
    case 'mean':
      return values.reduce((sum, value) => sum + value, 0) / values.length;
    case 'min':
      return values.reduce((min, value) => Math.min(min, value));
    case 'max':
      return values.reduce((max, value) => Math.max(max, value));
    case 'sum':
      return values.reduce((sum, value) => sum + value, 0);
    case 'count':
      return values.length;
    case 'last':
      return values.at(-1) ?? Number.NaN;
  }
}

/** Parses an instant-query answer (`resultType: vector`) into (device, value) pairs. */
export function parseVector(answer: unknown): { device: string; value: number }[] {
  const data = isRecord(answer) && isRecord(answer.data) ? answer.data : undefined;
  if (data === undefined || !Array.isArray(data.result)) {
    throw new TelemetryError('ERR_STORE_UNAVAILABLE', 'store answered a query with an unexpected shape');
  }
  const pairs: { device: string; value: number }[] = [];
  for (const item of data.result) {
    if (!isRecord(item) || !isRecord(item.metric) || !Array.isArray(item.value)) continue;
    const device = item.metric.device;
    const value = Number(item.value[1]);
    if (typeof device === 'string' && Number.isFinite(value)) pairs.push({ device, value });
  }
  return pairs;
}
