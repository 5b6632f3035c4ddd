import { InfluxStore, type InfluxV1Options, type InfluxV2Options } from './influx-store.js';

/**
 * How a store on VictoriaMetrics departs from the TelemetryStore contract, as observed on 1.79.5 (each measured by
 * test/store/victoria-metrics-store.test.ts; docs/STORAGE.md § VictoriaMetrics says what it means for operators).
 * The one place these are written down in code.
 *
 * - Server flags: it must run with `-dedup.minScrapeInterval=1ms`, otherwise a reading written twice is kept twice;
 *   `-search.latencyOffset=0s` is recommended, or the newest 30 s stay hidden from queries.
 * - Precision: a value keeps about 12 significant decimal digits (0.1 + 0.2 reads back as 0.3, 1/3 as
 *   0.333333333333); negative zero and subnormals read back as 0. The values of one series stored together share
 *   one decimal exponent (an int64 mantissa each), so a value much smaller than others beside it loses digits:
 *   next to 1e12, 1/3 reads back as 0.333333; next to 1e300, 0.3 reads back as 0.
 * - Conflicts: of different values written for the same device, metric and millisecond the server keeps one, by
 *   no rule the writer controls: neither the last written nor the largest, and which one can vary between runs
 *   and change when parts merge. (Versions with the fix for VictoriaMetrics issue #3333 keep the largest value.)
 * - Names with a double quote are refused before sending (ERR_STORE_REJECTED): its line protocol parser misreads
 *   them.
 * - Writes become searchable about a second after they are accepted.
 * - Lines it cannot parse are dropped with a 204, so ERR_STORE_REJECTED never comes from the server.
 * - It acknowledges writes before they are on disk (5–10 s later; `hardKillLossWindowMs`): a hard kill (SIGKILL, OOM
 *   kill, power loss) loses what it accepted in that window, and with it readings the node acknowledged. No flag of
 *   1.79.5 changes that; a clean stop (SIGTERM) keeps them.
 * - Series: each metric is its own series, `telemetry_<metric>{device="<id>"}` (devices × metrics, where InfluxDB
 *   has one series per device); what `/write?db=` wrote carries a `db` label and is kept apart from what
 *   `/api/v2/write` wrote. There are no retention policies: retention is the server's `-retentionPeriod`.
 */
export const VICTORIA_METRICS_DIFFERENCES = Object.freeze({
  requiredFlags: ['-dedup.minScrapeInterval=1ms'],
  recommendedFlags: ['-search.latencyOffset=0s'],
  /** Significant decimal digits kept of a value alone in its series; InfluxDB and DuckDB keep float64 exactly. */
  significantDigits: 12,
  /** Which of the different values written for one (device, metric, ts) is kept; elsewhere the last written. */
  conflictingValues: 'any-written-value',
  doubleQuotesInNames: false,
  /** About how long after a write is accepted it can be queried; elsewhere at once. */
  searchableAfterMs: 1_000,
  /** Whether a batch the server cannot parse is refused (ERR_STORE_REJECTED); VictoriaMetrics drops its lines. */
  refusesUnparsableWrites: false,
  /** Whether an acknowledged write survives a hard kill of the server: with no flag of 1.79.5 (nor of a later single node). */
  durableWhenAcknowledged: false,
  /**
   * How long before a hard kill acknowledged writes can be lost (test/drills/store-crash.test.ts asserts it): 1.79.5
   * writes an accepted sample to disk about 10 s later (10.2–10.3 s for a lone write, 5–10 s under load); 12 s leaves
   * room for a busy machine. 0 elsewhere.
   */
  hardKillLossWindowMs: 12_000,
  retentionPolicies: false,
} as const);

/** Options of {@link VictoriaMetricsStore}: those of an InfluxStore, less what VictoriaMetrics has no use for. */
export type VictoriaMetricsStoreOptions =
  | Omit<InfluxV2Options, 'queryMode' | 'database'>
  | Omit<InfluxV1Options, 'queryMode' | 'retentionPolicy'>;

/**
 * A TelemetryStore on VictoriaMetrics: the InfluxStore's line protocol writes (`/api/v2/write`, or `/write?db=`
 * with `api: 'v1'`), read back through VictoriaMetrics' own export and query API, with the differences listed in
 * {@link VICTORIA_METRICS_DIFFERENCES}.
 *
 * @example
 * ```ts
 * const store = new VictoriaMetricsStore({
 *   url: 'http://127.0.0.1:8428', api: 'v2', org: '', bucket: 'telemetry', timeoutMs: 10_000,
 * });
 * ```
 */
export class VictoriaMetricsStore extends InfluxStore {
  constructor(options: VictoriaMetricsStoreOptions) {
    super({ ...options, queryMode: 'victoriametrics' });
  }
}
