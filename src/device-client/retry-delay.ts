/** How long to wait before trying again. */
export interface BackoffPolicy {
  /** The first delay's upper bound, ms. */
  readonly baseMs: number;
  /** The longest delay, ms. */
  readonly maxMs: number;
}

/** Where jitter comes from: a number in [min, max). A seeded generator in tests and simulations, Math.random otherwise. */
export interface Jitter {
  between(min: number, max: number): number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 100, maxMs: 30_000 });

/** Jitter from Math.random, for clients that need no reproducible runs. */
export const RANDOM_JITTER: Jitter = Object.freeze({
  between: (min: number, max: number) => min + (max - min) * Math.random(),
});

/**
 * The delay before attempt `attempt` (1 for the first retry): exponential
 * backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"), and never less than the server's Retry-After, to which up to 20 %
 * jitter is added so devices told the same time do not all come back at once
 * (docs/PROTOCOL.md §9.3, §13 step 6).
 *
 * @example
 * const ms = retryDelay(3, DEFAULT_BACKOFF, RANDOM_JITTER, outcome.retryAfterMs);
 */
export function retryDelay(attempt: number, policy: BackoffPolicy, jitter: Jitter, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const backoff = jitter.between(0, ceiling);
  if (retryAfterMs === undefined) return Math.round(backoff);
  return Math.round(Math.max(backoff, retryAfterMs * jitter.between(1, 1.2)));
}
