import { DEFAULT_LIMITS } from '../../src/index.js';
import { SeededRandom } from '../random/seeded-random.js';
import { chooseShare } from './choose-share.js';

/** The node's time window for readings (docs/PROTOCOL.md §6): `now − pastMs ≤ ts ≤ now + futureMs`. */
export interface ClockTolerance {
  /** TELEMETRY_CLOCK_SKEW_SECONDS, in ms. */
  readonly futureMs: number;
  /** TELEMETRY_MAX_READING_AGE_SECONDS, in ms. */
  readonly pastMs: number;
}

/** The node defaults, 60 s ahead and 7 days behind (docs/PROTOCOL.md §6), as DEFAULT_LIMITS has them. */
export const DEFAULT_CLOCK_TOLERANCE: ClockTolerance = Object.freeze({
  futureMs: DEFAULT_LIMITS.maxFutureSkewMs,
  pastMs: DEFAULT_LIMITS.maxReadingAgeMs,
});

/** The code a node answers for a timestamp outside its window (docs/PROTOCOL.md §6). */
export const OUT_OF_RANGE_CODE = 'ERR_TIMESTAMP_OUT_OF_RANGE';

/**
 * Whether a device whose clock is off by `offsetMs` stamps readings the node
 * refuses. A clock ahead by more than the tolerance is always refused; one
 * ahead by a little less may still be refused when a reading waits long in
 * the device, so the run treats only the former as expected.
 */
export function beyondTolerance(offsetMs: number, tolerance: ClockTolerance): boolean {
  return offsetMs > tolerance.futureMs || offsetMs < -tolerance.pastMs;
}

/** Which devices' clocks are off, and by how much: `share` of them, each uniformly within ±`skewMs`, seeded. */
export function planClockSkew(
  ids: readonly string[],
  share: number,
  skewMs: number,
  seed: string,
): Map<string, number> {
  const rng = SeededRandom.from(seed, 'clock-skew');
  const plan = new Map<string, number>();
  if (skewMs <= 0) return plan;
  for (const id of chooseShare(ids, share, rng)) plan.set(id, Math.round(rng.between(-skewMs, skewMs)));
  return plan;
}
