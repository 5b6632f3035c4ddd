import type { TimeRange } from '../store/telemetry-store.js';

/**
 * The share of the window `[start, start + windowMs)` that lies inside `range`: 1 for a whole window, less for
 * the first window when the range starts inside it and for the last when the range ends inside it, so a
 * reader can tell a mean over 20 minutes of an hour window from one over the whole hour.
 *
 * @example
 * ```ts
 * windowCoverage(0, 3_600_000, { start: 2_700_000, end: 7_200_000 }); // 0.25
 * ```
 */
export function windowCoverage(start: number, windowMs: number, range: TimeRange): number {
  const inside = Math.min(start + windowMs, range.end) - Math.max(start, range.start);
  return Math.max(0, Math.min(1, inside / windowMs));
}
