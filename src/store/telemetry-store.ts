import type { Reading } from '../protocol/message.js';

/** Aggregates a downsampling query can ask for. */
export type Aggregate = 'mean' | 'min' | 'max' | 'sum' | 'count' | 'last';

/** A time range, in milliseconds since the epoch: start inclusive, end exclusive. */
export interface TimeRange {
  readonly start: number;
  readonly end: number;
}

/** One stored value: the store's unit of identity is (device, metric, ts). */
export interface StoredPoint {
  readonly device: string;
  readonly metric: string;
  readonly ts: number;
  readonly value: number;
}

export interface ReadingsQuery {
  /** One or more device ids; not read when {@link ReadingsQuery.devicePrefix} is given. */
  readonly devices: readonly string[];
  /**
   * Every device whose id starts with this, instead of a list (the empty string: every device): the store selects
   * them in the same query, where a list would first have to be looked up.
   */
  readonly devicePrefix?: string;
  /** One or more metric names; all metrics when omitted. */
  readonly metrics?: readonly string[];
  readonly range: TimeRange;
  /** Page size; the store may cap it. */
  readonly limit: number;
  /** Opaque, self-contained cursor from a previous page of the same query. */
  readonly cursor?: string;
}

export interface WindowedQuery extends ReadingsQuery {
  /** Window length in milliseconds; windows start at `originMs + k × windowMs`. */
  readonly windowMs: number;
  readonly aggregate: Aggregate;
  /** Where windows are aligned: 0 (the default) aligns them to the epoch, `-3_600_000` to midnight at UTC+1. */
  readonly originMs?: number;
}

/** One window of one device and metric; `ts` is the window start. */
export interface WindowPoint extends StoredPoint {}

export interface LatestQuery {
  /** Only devices whose id starts with this prefix. */
  readonly devicePrefix?: string;
  readonly metrics?: readonly string[];
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Present when more items follow; pass it back to get them. */
  readonly nextCursor?: string;
}

export interface SeriesInfo {
  readonly device: string;
  readonly metric: string;
  /** Time of the newest stored value, ms since the epoch. */
  readonly lastSeen: number;
}

/**
 * Where readings end up. Writes are idempotent on (device, metric, ts): writing
 * the same reading twice stores it once, and a second, different value for the
 * same key replaces the first (last write wins).
 *
 * `write` resolves only when the store has accepted every reading in the
 * batch (durably for DuckDB and InfluxDB; VictoriaMetrics single-node keeps
 * the last seconds in memory, see docs/STORAGE.md), and rejects with a TelemetryError: ERR_STORE_UNAVAILABLE when a
 * retry can help (with retryAfter when the store said so), ERR_STORE_REJECTED
 * when the readings themselves were refused.
 */
export interface TelemetryStore {
  write(readings: readonly Reading[]): Promise<void>;
  /** Raw points ordered by device, metric, ts. */
  queryReadings(query: ReadingsQuery): Promise<Page<StoredPoint>>;
  /** Windowed aggregates ordered by device, metric, window start. */
  queryWindows(query: WindowedQuery): Promise<Page<WindowPoint>>;
  /** The newest value of each (device, metric). */
  queryLatest(query: LatestQuery): Promise<readonly StoredPoint[]>;
  /** Every (device, metric) stored, with when it was last seen. */
  listSeries(): Promise<readonly SeriesInfo[]>;
  /** Resolves when the store answers; rejects with ERR_STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
