import { setTimeout as sleep } from 'node:timers/promises';
import { CONFIG_DEFAULTS } from '../config/config-defaults.js';
import { TelemetryError } from '../errors.js';

/**
 * How hard one store write tries before it reports a retryable failure.
 *
 * Nodes are stateless and devices resend whatever was not acknowledged, so a retry here only saves devices a
 * round trip on a short blip: it is bounded in count and in time, and never outlives the request that asked.
 */
export interface RetryPolicy {
  /** Attempts after the first one, at most. */
  readonly maxRetries: number;
  /** No retry starts later than this many milliseconds after the first attempt started. */
  readonly retryBudgetMs: number;
  /** Backoff before the first retry when the store gave no Retry-After; each later one is `backoffFactor` times longer. */
  readonly baseDelayMs: number;
  readonly backoffFactor: number;
}

/**
 * Two retries within 3 s (TELEMETRY_STORE_WRITE_RETRIES, TELEMETRY_STORE_RETRY_BUDGET_MS), after about 100 ms and
 * 400 ms (or the store's Retry-After, when it fits).
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxRetries: CONFIG_DEFAULTS.storeWriteRetries,
  retryBudgetMs: CONFIG_DEFAULTS.storeRetryBudgetMs,
  baseDelayMs: 100,
  backoffFactor: 4,
});

/** Where a failed write stands: how many retries it has had and how long since its first attempt started. */
export interface RetryState {
  readonly retriesDone: number;
  readonly elapsedMs: number;
}

/** What to do after a failed attempt. */
export type RetryDecision = { readonly retry: true; readonly delayMs: number } | { readonly retry: false };

/**
 * Decides whether, and after how long, to retry a failed write; a pure function of its arguments.
 * - Only ERR_STORE_UNAVAILABLE is retried (ERR_STORE_REJECTED never: the same batch would be refused again).
 * - The wait is the store's Retry-After when it sent one (RFC 9110 §10.2.3), else exponential backoff with
 *   "equal jitter": between half and all of `baseDelayMs × backoffFactor^retriesDone`, `random` (in [0, 1))
 *   choosing where, so that nodes that failed together do not retry together.
 * - It gives up at once when `maxRetries` are spent or the wait would end past `retryBudgetMs`: waiting out a long
 *   Retry-After is the device's job, and it learns the value from the error.
 */
export function decideRetry(
  failure: TelemetryError,
  state: RetryState,
  policy: RetryPolicy,
  random: number,
): RetryDecision {
  if (failure.code !== 'ERR_STORE_UNAVAILABLE' || state.retriesDone >= policy.maxRetries) return { retry: false };
  const retryAfter = failure.retryAfter();
  const full = policy.baseDelayMs * policy.backoffFactor ** state.retriesDone;
  const delayMs = retryAfter === undefined ? Math.round(full / 2 + (full / 2) * random) : retryAfter * 1_000;
  if (state.elapsedMs + delayMs > policy.retryBudgetMs) return { retry: false };
  return { retry: true, delayMs };
}

/** The clock, sleep and classification {@link retryWrite} uses; tests inject their own. */
export interface RetryDeps {
  /** Milliseconds from any fixed origin. */
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** A number in [0, 1) for the jitter. */
  readonly random: () => number;
  /**
   * Whether a retryable failure may pass within a few seconds; every one when omitted. A store adapter says no for
   * failures that only an operator can fix (a wrong token, a missing database).
   */
  readonly transient?: (failure: TelemetryError) => boolean;
}

const SYSTEM: RetryDeps = {
  now: () => performance.now(),
  sleep: async (ms) => {
    await sleep(ms);
  },
  random: Math.random,
};

/**
 * Runs `write`, retrying it as {@link decideRetry} says, and settles with the first success or the last failure,
 * unchanged (its code and Retry-After included, so the device is told when to come back).
 *
 * Each attempt has its own deadline (the adapter's request timeout), so a write lasts at most `retryBudgetMs` plus
 * one attempt.
 *
 * @example
 * ```ts
 * await retryWrite(() => http.postLines(path, body), { ...DEFAULT_RETRY_POLICY, maxRetries: 1 });
 * ```
 */
export async function retryWrite(
  write: () => Promise<void>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  deps: Partial<RetryDeps> = {},
): Promise<void> {
  const { now, sleep: wait, random, transient } = { ...SYSTEM, ...deps };
  const started = now();
  for (let retriesDone = 0; ; retriesDone++) {
    try {
      await write();
      return;
    } catch (error) {
      if (!(error instanceof TelemetryError) || (transient !== undefined && !transient(error))) throw error;
      const decision = decideRetry(error, { retriesDone, elapsedMs: now() - started }, policy, random());
      if (!decision.retry) throw error;
      await wait(decision.delayMs);
    }
  }
}
