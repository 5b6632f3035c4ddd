import type { Reading } from '../protocol/message.js';
import { InfluxHttp, isTransientStoreError, type StoreCompression } from './influx-http.js';
import { InfluxqlBackend } from './influxql-backend.js';
import { type LineProtocolDialect, toLineProtocol } from './line-protocol.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryWrite } from './retry-write.js';
import type { SeriesBackend } from './series-backend.js';
import { pageSeries, SLICES_PER_REQUEST } from './series-pager.js';
import type {
  LatestQuery,
  Page,
  ReadingsQuery,
  SeriesInfo,
  StoredPoint,
  TelemetryStore,
  WindowedQuery,
  WindowPoint,
} from './telemetry-store.js';
import { VictoriaMetricsBackend } from './victoria-metrics-backend.js';
import { compareKeys } from './victoria-metrics-queries.js';

interface CommonOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:8086` (no `/api/v2` suffix). */
  readonly url: string;
  /** Deadline for each HTTP request, in milliseconds. */
  readonly timeoutMs: number;
  /** Write bodies sent as they are (`none`, when omitted) or gzipped; see StoreCompression. */
  readonly compression?: StoreCompression;
  /**
   * Which server this is, and so how to query it: `influxql` (InfluxDB 1.x, 2.x through a DBRP mapping, 3.x) or
   * `victoriametrics` (its own export and query API, and its line protocol quirks; VictoriaMetricsStore sets it).
   */
  readonly queryMode: 'influxql' | 'victoriametrics';
  /**
   * Times a write that failed as ERR_STORE_UNAVAILABLE (a 429, a 5xx, a timeout, a refused connection) is sent
   * again before `write` rejects; 0 for none; DEFAULT_RETRY_POLICY's when omitted (TELEMETRY_STORE_WRITE_RETRIES).
   * Answers that waiting cannot fix (400, 401, 403, 404, 413, 422, ...) are never retried.
   */
  readonly maxRetries?: number;
  /**
   * No retry starts later than this many milliseconds after the write began; DEFAULT_RETRY_POLICY's when omitted
   * (TELEMETRY_STORE_RETRY_BUDGET_MS). A retry waits the server's Retry-After when it sent one, and the write gives
   * up at once, reporting that Retry-After, when the wait would not fit; otherwise it waits about 100 ms, then
   * 400 ms (jittered).
   */
  readonly retryBudgetMs?: number;
}

/** Writes to `/api/v2/write` (InfluxDB 2.x, 3.x, 1.8+, VictoriaMetrics). */
export interface InfluxV2Options extends CommonOptions {
  readonly api: 'v2';
  /** API token, sent as `Authorization: Token ...`. */
  readonly token?: string;
  readonly org: string;
  readonly bucket: string;
  /** Database name for InfluxQL queries (the DBRP mapping of the bucket); the bucket name when omitted. */
  readonly database?: string;
}

/** Writes to `/write?db=` (InfluxDB 1.x, VictoriaMetrics). */
export interface InfluxV1Options extends CommonOptions {
  readonly api: 'v1';
  readonly database: string;
  /** Retention policy to write to and query; the database's default when omitted. */
  readonly retentionPolicy?: string;
  /** Sent with HTTP basic auth when the server has auth enabled. */
  readonly username?: string;
  readonly password?: string;
  /** Sent as `Authorization: Token ...` instead of basic auth (1.8+ accepts `username:password`). */
  readonly token?: string;
}

/** Options of {@link InfluxStore}. */
export type InfluxStoreOptions = InfluxV2Options | InfluxV1Options;

/**
 * A TelemetryStore on InfluxDB or VictoriaMetrics, writing InfluxDB line protocol (see `toLine` for the data
 * model) and reading through InfluxQL or VictoriaMetrics' API.
 *
 * `write` sends each batch as one HTTP request and never batches across calls. When the store answers that it is
 * briefly unavailable, the same batch is sent again a bounded number of times within a short budget (`maxRetries`,
 * `retryBudgetMs`; see `retryWrite`), so the write still settles within one device request's life; after that it
 * rejects with the last failure. See `httpFailureToStoreError` for how failures map to error codes.
 *
 * On VictoriaMetrics (`queryMode: 'victoriametrics'`, which `VictoriaMetricsStore` sets) the store does not meet
 * the whole TelemetryStore contract: `VICTORIA_METRICS_DIFFERENCES` (victoria-metrics-store.ts) says how, and which
 * server flags it needs.
 *
 * @example
 * ```ts
 * const store = new InfluxStore({
 *   url: 'http://127.0.0.1:8086', api: 'v1', database: 'telemetry', timeoutMs: 5_000, queryMode: 'influxql',
 * });
 * await store.write([{ device: 'pump-1', ts: Date.now(), values: { temp: 21.5 } }]);
 * ```
 */
export class InfluxStore implements TelemetryStore {
  readonly #http: InfluxHttp;
  readonly #writePath: string;
  readonly #pingPath: string;
  readonly #backend: SeriesBackend;
  readonly #dialect: LineProtocolDialect;
  readonly #retry: RetryPolicy;

  constructor(options: InfluxStoreOptions) {
    this.#http = new InfluxHttp(options);
    this.#retry = retryPolicyOf(options);
    const params =
      options.api === 'v2'
        ? new URLSearchParams({ org: options.org, bucket: options.bucket, precision: 'ms' })
        : new URLSearchParams({ db: options.database, precision: 'ms' });
    if (options.api === 'v1' && options.retentionPolicy !== undefined) params.set('rp', options.retentionPolicy);
    this.#writePath = `${options.api === 'v2' ? '/api/v2/write' : '/write'}?${params}`;
    this.#dialect = options.queryMode === 'victoriametrics' ? 'victoriametrics' : 'influxdb';
    const database = options.api === 'v2' ? (options.database ?? options.bucket) : options.database;
    if (options.queryMode === 'victoriametrics') {
      this.#pingPath = '/health';
      const db = options.api === 'v1' ? options.database : '';
      this.#backend = new VictoriaMetricsBackend(this.#http, { measurement: 'telemetry', db });
    } else {
      this.#pingPath = '/ping';
      const rp = options.api === 'v1' ? options.retentionPolicy : undefined;
      this.#backend = new InfluxqlBackend(this.#http, database, rp);
    }
  }

  async write(readings: readonly Reading[]): Promise<void> {
    const body = toLineProtocol(readings, this.#dialect);
    if (body === '') return;
    await retryWrite(() => this.#http.postLines(this.#writePath, body), this.#retry, {
      transient: isTransientStoreError,
    });
  }

  async queryReadings(selection: ReadingsQuery): Promise<Page<StoredPoint>> {
    const query = await this.#listDevices(selection);
    const metrics = query.metrics ?? (await this.#backend.metrics(query.devices));
    return pageSeries(query, metrics, 1, (slices) => this.#backend.readRaw(slices));
  }

  async queryWindows(selection: WindowedQuery): Promise<Page<WindowPoint>> {
    if (!Number.isSafeInteger(selection.windowMs) || selection.windowMs < 1) {
      throw new RangeError('windowMs must be a positive integer');
    }
    const query = await this.#listDevices(selection);
    const metrics = query.metrics ?? (await this.#backend.metrics(query.devices));
    // Windows are cut at the page's limit by the store, so there is nothing to gain from starting small.
    return pageSeries(
      query,
      metrics,
      query.windowMs,
      async (slices) => ({
        points: await this.#backend.readWindows(slices, query.windowMs, query.aggregate, query.originMs ?? 0),
      }),
      SLICES_PER_REQUEST,
    );
  }

  /**
   * The query with the devices of its prefix listed, when it names them by prefix: these stores read one series at
   * a time, so they need the names first (VictoriaMetrics from its series index, InfluxDB from the newest values,
   * as {@link InfluxStore.queryLatest} finds them: `SeriesBackend.devices`). The prefix stays in
   * the query, so its cursors are the same whichever devices a page found.
   */
  async #listDevices<T extends ReadingsQuery>(query: T): Promise<T> {
    if (query.devicePrefix === undefined) return query;
    // Only the query's metrics: a device that has none of them has nothing to add to the answer.
    return { ...query, devices: await this.#backend.devices(query.devicePrefix, query.metrics) };
  }

  async queryLatest(query: LatestQuery): Promise<readonly StoredPoint[]> {
    return (await this.#backend.latest(query)).sort(compareKeys);
  }

  async listSeries(): Promise<readonly SeriesInfo[]> {
    const latest = await this.queryLatest({});
    return latest.map(({ device, metric, ts }) => ({ device, metric, lastSeen: ts }));
  }

  async ping(): Promise<void> {
    await this.#http.getText(this.#pingPath);
  }

  async close(): Promise<void> {
    // Writes and text reads (exports, the ping) keep connections of their own open between requests; JSON queries
    // use node's global agent. The node closes the store after its transports, so no query is under way here.
    this.#http.close();
  }
}

function retryPolicyOf(options: InfluxStoreOptions): RetryPolicy {
  const { maxRetries = DEFAULT_RETRY_POLICY.maxRetries, retryBudgetMs = DEFAULT_RETRY_POLICY.retryBudgetMs } = options;
  if (!Number.isSafeInteger(maxRetries) || maxRetries < 0) throw new RangeError('maxRetries must be an integer ≥ 0');
  if (!Number.isFinite(retryBudgetMs) || retryBudgetMs < 0) throw new RangeError('retryBudgetMs must be ≥ 0');
  return { ...DEFAULT_RETRY_POLICY, maxRetries, retryBudgetMs };
}
