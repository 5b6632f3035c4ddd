import { type BackoffPolicy, type Jitter, retryDelay } from './retry-delay.js';
import type { SendOutcome } from './send-outcome.js';

/** A message on its way: how often it was tried, and when it may be tried again. */
export type Pending<M> = M & {
  readonly attempts: number;
  readonly notBefore: number;
};

/** A first attempt at `message`. */
export const firstAttempt = <M extends object>(message: M): Pending<M> => ({ ...message, attempts: 0, notBefore: 0 });

/**
 * A device's messages waiting to be sent again, each not before its backoff
 * (with jitter) has passed, and the pause a Retry-After asks of the whole device.
 */
export class RetryQueue<M extends object> {
  #waiting: Pending<M>[] = [];
  #pausedUntil = 0;

  get size(): number {
    return this.#waiting.length;
  }

  /** Until when the node asked (Retry-After) that nothing be sent, ms since the epoch. */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /** When the next message is due, or Infinity when none waits. */
  get nextDue(): number {
    return Math.min(...this.#waiting.map((p) => p.notBefore));
  }

  /** Takes out the first message due by `now`, if any. */
  takeDue(now: number): Pending<M> | undefined {
    const due = this.#waiting.findIndex((p) => p.notBefore <= now);
    return due < 0 ? undefined : this.#waiting.splice(due, 1)[0];
  }

  /** Puts `message` back after an attempt that asked for a retry, with backoff and jitter. */
  add(
    message: Pending<M>,
    outcome: Extract<SendOutcome, { kind: 'retry' }>,
    backoff: BackoffPolicy,
    jitter: Jitter,
    now: number,
  ): void {
    const attempts = message.attempts + 1;
    const delay = retryDelay(attempts, backoff, jitter, outcome.retryAfterMs);
    const notBefore = now + delay;
    if (outcome.retryAfterMs !== undefined) this.#pausedUntil = Math.max(this.#pausedUntil, notBefore);
    this.#waiting.push({ ...message, attempts, notBefore });
  }
}
