/**
 * An approximate per-device rate limit for one node: a token bucket per
 * device, refilled at `perSecond` with a burst of the same size. It is a
 * cache: buckets of idle devices are dropped (oldest first past `maxDevices`),
 * and losing them only forgives a little. Nodes do not share buckets, so N
 * nodes allow up to N times the rate.
 */
export class RateLimiter {
  readonly #perSecond: number;
  readonly #maxDevices: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perSecond: number, maxDevices = 100_000) {
    this.#perSecond = perSecond;
    this.#maxDevices = maxDevices;
  }

  /** Takes one token for `device` at time `now` (ms); false when the device is over its rate. */
  take(device: string, now: number): boolean {
    let bucket = this.#buckets.get(device);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxDevices) {
        const oldest = this.#buckets.keys().next();
        if (oldest.done !== true) this.#buckets.delete(oldest.value);
      }
      bucket = { tokens: this.#perSecond, at: now };
      this.#buckets.set(device, bucket);
    } else {
      bucket.tokens = Math.min(this.#perSecond, bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
