import { TelemetryError } from '../errors.js';
import { AnswerTooLargeError, type InfluxHttp } from './influx-http.js';
import type { SeriesSlice } from './influxql.js';
import type { SeriesBackend } from './series-backend.js';
import type { SlicesRead } from './series-pager.js';
import type { Aggregate, LatestQuery, StoredPoint } from './telemetry-store.js';
import {
  aggregateWindows,
  exportPath,
  metricOfSeriesName,
  parseExport,
  parseVector,
  pointsOfSlice,
  seriesSelector,
  toSeconds,
  type VictoriaMetricsNaming,
} from './victoria-metrics-queries.js';
import { groupSlices, MAX_STEPS_PER_REQUEST, readGroupWindows } from './victoria-metrics-windows.js';

// `queryLatest` and `listSeries` look from a day ahead of now (readings may be a little ahead) back to the
// second day of the epoch: a lookback window reaching before the epoch finds nothing at all.
const DAY_MS = 86_400_000;
/** Windows in one slice's range beyond which they are aggregated on the node (see readWindows). */
const MAX_STEPS_ON_STORE = 20 * MAX_STEPS_PER_REQUEST;
/**
 * Bytes of export a point may take when a read is sized from a carried count: a point is a value of at most 12
 * significant digits and a 13-digit millisecond time, about 30 bytes in export's JSON, so this leaves room.
 */
const MAX_BYTES_PER_POINT = 48;

/** The most bytes an export sized from a carried count may answer: twice the points, some slack, each line's names. */
function exportBytesFor(points: number, slices: number): number {
  return (2 * points + 64) * MAX_BYTES_PER_POINT + 1_024 * slices;
}

/**
 * Queries VictoriaMetrics' own HTTP API: raw points through `/api/v1/export`, windows through `query_range` with
 * `*_over_time` rollups (evaluated so that they match InfluxQL's `GROUP BY time()` exactly), metric names through `/api/v1/label/__name__/values`, and the
 * newest values through instant queries of `last_over_time` and `tlast_over_time`.
 */
export class VictoriaMetricsBackend implements SeriesBackend {
  readonly #http: InfluxHttp;
  readonly #naming: VictoriaMetricsNaming;

  constructor(http: InfluxHttp, naming: VictoriaMetricsNaming) {
    this.#http = http;
    this.#naming = naming;
  }

  /** The values of `label` on the series `selectors` match, from the store's index (`/api/v1/label/.../values`). */
  async #labelValues(label: string, selectors: readonly string[], range: Record<string, string>): Promise<string[]> {
    const params = new URLSearchParams(range);
    for (const selector of selectors) params.append('match[]', selector);
    const answer = await this.#http.getJson(`/api/v1/label/${label}/values?${params}`);
    const values = typeof answer === 'object' && answer !== null && 'data' in answer ? answer.data : undefined;
    if (!Array.isArray(values)) {
      throw new TelemetryError('ERR_STORE_UNAVAILABLE', 'store answered a query with an unexpected shape');
    }
    return values.filter((value): value is string => typeof value === 'string');
  }

  async #metricsMatching(selectors: readonly string[]): Promise<string[]> {
    const names = await this.#labelValues('__name__', selectors, { start: '0' });
    return names.flatMap((name) => {
      const metric = metricOfSeriesName(this.#naming, name);
      return metric === undefined ? [] : [metric];
    });
  }

  /**
   * From the store's series index (`/api/v1/label/device/values`), not from the newest values, which read every
   * sample of each series: a page of a question by prefix asks this first (about 3.7 ms for one metric of 20
   * devices that way, against a 10,000-point page of 11 ms).
   */
  async devices(prefix: string, metrics: readonly string[] | undefined): Promise<string[]> {
    const device = { prefix };
    const selectors =
      metrics === undefined
        ? [seriesSelector(this.#naming, undefined, device)]
        : metrics.map((metric) => seriesSelector(this.#naming, metric, device));
    if (selectors.length === 0) return [];
    // From the epoch to a day ahead of now, as queryLatest looks: readings may be a little ahead.
    return this.#labelValues('device', selectors, { start: '0', end: toSeconds(Date.now() + DAY_MS) });
  }

  metrics(devices: readonly string[]): Promise<string[]> {
    if (devices.length === 0) return Promise.resolve([]);
    return this.#metricsMatching(devices.map((device) => seriesSelector(this.#naming, undefined, { equals: device })));
  }

  /**
   * The slices' points, oldest first, at most `limit` each. Export cannot stop at a limit, so a page would
   * otherwise read every remaining point of every series it touches (a whole series per page, pages after
   * pages): the points of each slice in its range are counted first (`count_over_time`, computed by the store),
   * slices that fit in what the page still needs are exported together, and the slice that would overflow it is
   * exported in time spans sized from its count to hold about what is needed. Only the slices the page reaches
   * are read: those after the one that fills it come back empty, which the pager never looks at. The counts only
   * size the reads; what is returned is what export answered.
   *
   * When every slice carries the count the page before found (`SeriesSlice.counted`, from the cursor), the reads
   * are sized from those instead, with no count of their own: one request a page where there were two. Such a
   * count may be stale or forged, so each export it sizes may be at most a few times longer than the count says
   * (MAX_BYTES_PER_POINT a point); a longer answer is dropped unread and the slices are counted after all.
   */
  async readRaw(slices: readonly SeriesSlice[]): Promise<SlicesRead<StoredPoint>> {
    if (!slices.some((slice) => Number.isFinite(slice.limit))) return { points: await this.#exportSlices(slices) };
    const carried = slices.map((slice) => slice.counted);
    if (carried.every((count): count is number => count !== undefined)) {
      try {
        return await this.#readCounted(slices, carried, true);
      } catch (error) {
        if (!(error instanceof AnswerTooLargeError)) throw error;
      }
    }
    return this.#readCounted(slices, await this.#countPoints(slices), false);
  }

  /** readRaw's reads, sized from `counts` (each slice's points in its range); `bounded`: as a hint only. */
  async #readCounted(
    slices: readonly SeriesSlice[],
    counts: readonly number[],
    bounded: boolean,
  ): Promise<SlicesRead<StoredPoint>> {
    const points: StoredPoint[][] = slices.map(() => []);
    let need = Math.max(...slices.map((slice) => slice.limit));
    let next = 0;
    while (next < slices.length && need > 0) {
      let end = next;
      let expected = 0;
      while (end < slices.length && expected + (counts[end] ?? 0) <= need) expected += counts[end++] ?? 0;
      if (end > next) {
        const group = slices.slice(next, end);
        const whole = await this.#exportSlices(group, bounded ? exportBytesFor(expected, group.length) : undefined);
        for (const [offset, read] of whole.entries()) {
          points[next + offset] = read;
          need -= read.length;
        }
        next = end;
        continue;
      }
      const slice = slices[next] as SeriesSlice;
      const read = await this.#exportInSpans(slice, Math.min(need, slice.limit), counts[next] ?? 0, bounded);
      points[next++] = read;
      need -= read.length;
    }
    return { points, counted: counts };
  }

  async #exportSlices(slices: readonly SeriesSlice[], maxBytes?: number): Promise<StoredPoint[][]> {
    const points = parseExport(this.#naming, await this.#http.getText(exportPath(this.#naming, slices), maxBytes));
    return slices.map((slice) => pointsOfSlice(points, slice));
  }

  /**
   * The first `need` points of `slice`, exported a time span at a time; `expected` is its count in its range.
   * Each span is at least twice as long as the one before, so a count far above what is there costs a few
   * requests, not one per millisecond; `bounded` caps each span's answer at what its share of the count allows.
   */
  async #exportInSpans(slice: SeriesSlice, need: number, expected: number, bounded: boolean): Promise<StoredPoint[]> {
    const points: StoredPoint[] = [];
    let from = slice.from;
    let left = expected;
    let span = 0;
    while (from < slice.end && points.length < need) {
      const wanted = need - points.length;
      // A quarter more than the share of the range that should hold `wanted` points, so one span usually does.
      const share = left <= wanted ? 1 : (wanted * 1.25) / left;
      span = Math.max(2 * span, 1, Math.ceil((slice.end - from) * share));
      const end = Math.min(slice.end, from + span);
      const maxBytes = bounded ? exportBytesFor(Math.min(left, Math.ceil(wanted * 1.25)), 1) : undefined;
      const [read = []] = await this.#exportSlices([{ ...slice, from, end, limit: wanted }], maxBytes);
      points.push(...read);
      left = Math.max(0, left - read.length);
      from = end;
    }
    return points;
  }

  /**
   * How many points each slice holds in its range, counted by the store: one instant `count_over_time` per metric
   * and range, whose lookbehind `(end - 1 - (end - from), end - 1]` is exactly `[from, end)` in whole milliseconds.
   */
  async #countPoints(slices: readonly SeriesSlice[]): Promise<number[]> {
    const groups = new Map<string, SeriesSlice[]>();
    for (const slice of slices) {
      const key = JSON.stringify([slice.metric, slice.from, slice.end]);
      groups.set(key, [...(groups.get(key) ?? []), slice]);
    }
    const counted = new Map<SeriesSlice, number>();
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const { metric, from, end } = group[0] as SeriesSlice;
        const selector = seriesSelector(this.#naming, metric, { oneOf: group.map((slice) => slice.device) });
        const counts = await this.#instant(`count_over_time(${selector}[${end - from}ms])`, end - 1);
        const byDevice = new Map(counts.map((count) => [count.device, count.value]));
        for (const slice of group) counted.set(slice, byDevice.get(slice.device) ?? 0);
      }),
    );
    return slices.map((slice) => counted.get(slice) ?? 0);
  }

  /**
   * Windows computed by the store (`*_over_time` rollups through `query_range`, see `windowEvaluations`), unless
   * the range spans more than MAX_STEPS_ON_STORE windows: stepping through that many mostly empty windows costs
   * more than reading the raw points, so those are aggregated here, with the same result.
   */
  async readWindows(
    slices: readonly SeriesSlice[],
    windowMs: number,
    aggregate: Aggregate,
    originMs: number,
  ): Promise<StoredPoint[][]> {
    const onNode = slices.filter((slice) => (slice.end - slice.from) / windowMs > MAX_STEPS_ON_STORE);
    const raw =
      onNode.length === 0
        ? []
        : (await this.readRaw(onNode.map((slice) => ({ ...slice, limit: Number.POSITIVE_INFINITY })))).points;
    const nodeWindows = new Map(
      onNode.map((slice, index) => [
        slice,
        aggregateWindows(raw[index] ?? [], windowMs, aggregate, originMs).slice(0, slice.limit),
      ]),
    );
    const inStore = slices.filter((slice) => !nodeWindows.has(slice));
    const groups = await Promise.all(
      groupSlices(inStore).map(async (group) => ({
        group,
        windows: await readGroupWindows(this.#naming, group, { windowMs, aggregate, originMs }, (path) =>
          this.#http.getJson(path),
        ),
      })),
    );
    const storeWindows = new Map<SeriesSlice, StoredPoint[]>();
    for (const { group, windows } of groups) {
      for (const slice of group) storeWindows.set(slice, (windows.get(slice.device) ?? []).slice(0, slice.limit));
    }
    return slices.map((slice) => nodeWindows.get(slice) ?? storeWindows.get(slice) ?? []);
  }

  async #instant(query: string, time: number): Promise<{ device: string; value: number }[]> {
    const params = new URLSearchParams({ query, time: toSeconds(time), nocache: '1' });
    return parseVector(await this.#http.getJson(`/api/v1/query?${params}`));
  }

  async latest(query: LatestQuery): Promise<StoredPoint[]> {
    const device = query.devicePrefix === undefined ? undefined : { prefix: query.devicePrefix };
    const metrics = query.metrics ?? (await this.#metricsMatching([seriesSelector(this.#naming, undefined, device)]));
    const time = Date.now() + DAY_MS;
    const lookback = `${Math.floor(time / DAY_MS) - 1}d`;
    const perMetric = await Promise.all(
      metrics.map(async (metric) => {
        const selector = `${seriesSelector(this.#naming, metric, device)}[${lookback}]`;
        const [values, times] = await Promise.all([
          this.#instant(`last_over_time(${selector})`, time),
          this.#instant(`tlast_over_time(${selector})`, time),
        ]);
        const tsOf = new Map(times.map((t) => [t.device, Math.round(t.value * 1_000)]));
        return values.flatMap(({ device: id, value }) => {
          const ts = tsOf.get(id);
          return ts === undefined ? [] : [{ device: id, metric, ts, value }];
        });
      }),
    );
    return perMetric.flat();
  }
}
