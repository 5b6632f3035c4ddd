import type { SeededRandom } from '../random/seeded-random.js';

/** How long to wait before trying again. */
export interface BackoffPolicy {
  /** The first delay's upper bound, ms. */
  readonly baseMs: number;
  /** The longest delay, ms. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 100, maxMs: 30_000 });

/**
 * The delay before attempt `attempt` (1 for the first retry): exponential
 * backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"), and never less than the server's Retry-After, to which up to 20 %
 * jitter is added so devices told the same time do not all come back at once.
 */
export function retryDelay(attempt: number, policy: BackoffPolicy, rng: SeededRandom, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const backoff = rng.between(0, ceiling);
  if (retryAfterMs === undefined) return Math.round(backoff);
  return Math.round(Math.max(backoff, retryAfterMs * rng.between(1, 1.2)));
}
