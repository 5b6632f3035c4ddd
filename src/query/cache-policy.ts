/** How long a private cache may keep a response of data that can no longer change. */
const FINAL_MAX_AGE_SECONDS = 86_400;

/**
 * Time allowed, past the maximum reading age and the clock skew, for a reading
 * accepted just in time to reach the store (batching, write retries).
 */
export const SETTLE_MS = 5 * 60_000;

/** What the query API needs to know to tell whether data can still change. */
export interface CachePolicyOptions {
  /** The end (exclusive) of the queried range, or undefined for queries of the newest data. */
  readonly rangeEnd: number | undefined;
  readonly now: number;
  /** Nodes refuse readings older than this (TELEMETRY_MAX_READING_AGE_SECONDS). */
  readonly maxReadingAgeMs: number;
  /** Nodes accept readings this far behind their own clock (TELEMETRY_CLOCK_SKEW_SECONDS). */
  readonly clockSkewMs: number;
}

/**
 * Whether every reading a query over a range ending at `rangeEnd` could select
 * is final: nodes refuse readings older than the maximum age, so once the end
 * of the range is older than that (plus clock skew and time to settle), no
 * write can add or change a value inside it.
 */
function isFinal(options: CachePolicyOptions): boolean {
  const { rangeEnd, now, maxReadingAgeMs, clockSkewMs } = options;
  return rangeEnd !== undefined && rangeEnd <= now - maxReadingAgeMs - clockSkewMs - SETTLE_MS;
}

/**
 * The Cache-Control of a query response (RFC 9111 §5.2.2). Final data may be
 * kept a day without asking again; anything newer must be revalidated (with
 * its ETag) before each use. Always `private`: see docs/QUERY.md §Caching.
 *
 * @example
 * ```ts
 * cacheControl({ rangeEnd: Date.now() - 30 * 86_400_000, now: Date.now(), maxReadingAgeMs: 7 * 86_400_000, clockSkewMs: 60_000 });
 * // 'private, max-age=86400, immutable'
 * ```
 */
export function cacheControl(options: CachePolicyOptions): string {
  return isFinal(options) ? `private, max-age=${FINAL_MAX_AGE_SECONDS}, immutable` : 'private, no-cache';
}
