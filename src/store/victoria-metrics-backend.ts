import { TelemetryError } from '../errors.js';
import type { InfluxHttp } from './influx-http.js';
import type { SeriesSlice } from './influxql.js';
import type { SeriesBackend } from './series-backend.js';
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

  async #metricsMatching(selectors: readonly string[]): Promise<string[]> {
    const params = new URLSearchParams({ start: '0' });
    for (const selector of selectors) params.append('match[]', selector);
    const answer = await this.#http.getJson(`/api/v1/label/__name__/values?${params}`);
    const names = typeof answer === 'object' && answer !== null && 'data' in answer ? answer.data : undefined;
    if (!Array.isArray(names)) {
      throw new TelemetryError('ERR_STORE_UNAVAILABLE', 'store answered a query with an unexpected shape');
    }
    return names.flatMap((name) => {
      const metric = typeof name === 'string' ? metricOfSeriesName(this.#naming, name) : undefined;
      return metric === undefined ? [] : [metric];
    });
  }

  metrics(devices: readonly string[]): Promise<string[]> {
    if (devices.length === 0) return Promise.resolve([]);
    return this.#metricsMatching(devices.map((device) => seriesSelector(this.#naming, undefined, { equals: device })));
  }

  async readRaw(slices: readonly SeriesSlice[]): Promise<StoredPoint[][]> {
    const points = parseExport(this.#naming, await this.#http.getText(exportPath(this.#naming, slices)));
    return slices.map((slice) => pointsOfSlice(points, slice));
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
        : await this.readRaw(onNode.map((slice) => ({ ...slice, limit: Number.POSITIVE_INFINITY })));
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
    const params = new URLSearchParams({ query, time: toSeconds(time) });
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
