import type { InfluxHttp } from './influx-http.js';
import {
  numericRows,
  parseInfluxqlAnswer,
  type SeriesSlice,
  selectLatestStatement,
  selectRawStatement,
  selectWindowsStatement,
  showFieldKeysStatement,
} from './influxql.js';
import { TELEMETRY_MEASUREMENT } from './line-protocol.js';
import type { SeriesBackend } from './series-backend.js';
import type { SlicesRead } from './series-pager.js';
import type { Aggregate, LatestQuery, StoredPoint } from './telemetry-store.js';

/**
 * Queries through InfluxQL on `/query` with `epoch=ms`: InfluxDB 1.x, InfluxDB 2.x through a DBRP mapping whose
 * database name is `database`, and InfluxDB 3.x. Several statements travel in one request, separated by `;`.
 */
export class InfluxqlBackend implements SeriesBackend {
  readonly #http: InfluxHttp;
  readonly #database: string;
  readonly #retentionPolicy: string | undefined;

  constructor(http: InfluxHttp, database: string, retentionPolicy?: string) {
    this.#http = http;
    this.#database = database;
    this.#retentionPolicy = retentionPolicy;
  }

  async #run(statements: readonly string[]) {
    const params = new URLSearchParams({ db: this.#database, epoch: 'ms', q: statements.join(';\n') });
    if (this.#retentionPolicy !== undefined) params.set('rp', this.#retentionPolicy);
    return parseInfluxqlAnswer(await this.#http.getJson(`/query?${params}`), statements.length);
  }

  async metrics(): Promise<string[]> {
    const [series = []] = await this.#run([showFieldKeysStatement(TELEMETRY_MEASUREMENT)]);
    return series.flatMap((s) => s.values.map((row) => row[0]).filter((key): key is string => typeof key === 'string'));
  }

  async #read(slices: readonly SeriesSlice[], statementOf: (slice: SeriesSlice) => string): Promise<StoredPoint[][]> {
    const answers = await this.#run(slices.map(statementOf));
    return slices.map((slice, index) =>
      (answers[index] ?? []).flatMap(numericRows).map(({ ts, value }) => ({
        device: slice.device,
        metric: slice.metric,
        ts,
        value,
      })),
    );
  }

  async devices(prefix: string, metrics: readonly string[] | undefined): Promise<string[]> {
    // The newest value of each series the prefix selects: tags are per measurement, not per field, so the tag
    // index alone would also list devices that have none of `metrics`.
    const latest = await this.latest({
      ...(prefix === '' ? {} : { devicePrefix: prefix }),
      ...(metrics === undefined ? {} : { metrics }),
    });
    return [...new Set(latest.map((point) => point.device))];
  }

  async readRaw(slices: readonly SeriesSlice[]): Promise<SlicesRead<StoredPoint>> {
    // InfluxQL stops at a LIMIT, so nothing is counted: `slice.counted` has nothing to size.
    return { points: await this.#read(slices, (slice) => selectRawStatement(TELEMETRY_MEASUREMENT, slice)) };
  }

  readWindows(
    slices: readonly SeriesSlice[],
    windowMs: number,
    aggregate: Aggregate,
    originMs: number,
  ): Promise<StoredPoint[][]> {
    return this.#read(slices, (slice) =>
      selectWindowsStatement(TELEMETRY_MEASUREMENT, slice, windowMs, aggregate, originMs),
    );
  }

  async latest(query: LatestQuery): Promise<StoredPoint[]> {
    const metrics = query.metrics ?? (await this.metrics());
    if (metrics.length === 0) return [];
    const answers = await this.#run(
      metrics.map((metric) => selectLatestStatement(TELEMETRY_MEASUREMENT, metric, query.devicePrefix)),
    );
    return metrics.flatMap((metric, index) =>
      (answers[index] ?? []).flatMap((series) => {
        const device = series.tags.device;
        if (device === undefined) return [];
        return numericRows(series).map(({ ts, value }) => ({ device, metric, ts, value }));
      }),
    );
  }
}
