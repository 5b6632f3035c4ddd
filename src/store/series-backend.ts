import type { SeriesSlice } from './influxql.js';
import type { SlicesRead } from './series-pager.js';
import type { Aggregate, LatestQuery, StoredPoint } from './telemetry-store.js';

/**
 * What a query language must provide for the InfluxStore to answer every query: series read one slice at a time
 * in time order (paging is done on top, by `pageSeries`), and the newest value per (device, metric).
 */
export interface SeriesBackend {
  /** Every metric stored for any of `devices` (or for any device at all, when the backend cannot filter). */
  metrics(devices: readonly string[]): Promise<string[]>;
  /**
   * Every device whose name starts with `prefix` ('' for all) and that has stored one of `metrics` (any metric,
   * when undefined), in any order: what a question by prefix reads, one series at a time.
   */
  devices(prefix: string, metrics: readonly string[] | undefined): Promise<string[]>;
  /** Raw points of each slice, oldest first; one list per slice, and what the read counted of each. */
  readRaw(slices: readonly SeriesSlice[]): Promise<SlicesRead<StoredPoint>>;
  /** Windows aligned to `originMs` of each slice, oldest first, `ts` the window start; one list per slice. */
  readWindows(
    slices: readonly SeriesSlice[],
    windowMs: number,
    aggregate: Aggregate,
    originMs: number,
  ): Promise<StoredPoint[][]>;
  /** The newest value of each (device, metric) the query selects, in any order. */
  latest(query: LatestQuery): Promise<StoredPoint[]>;
}
