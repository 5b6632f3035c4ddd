/** Bucket bounds grow by this factor: percentiles are exact to within 2 %. */
const GROWTH = 1.02;
const SMALLEST_MS = 0.01;

/** Latencies in fixed memory: log-scaled buckets, exact count and maximum. */
export class LatencyHistogram {
  readonly #buckets = new Map<number, number>();
  #count = 0;
  #max = 0;

  get count(): number {
    return this.#count;
  }

  get max(): number {
    return this.#max;
  }

  record(ms: number): void {
    const bucket = ms <= SMALLEST_MS ? 0 : Math.ceil(Math.log(ms / SMALLEST_MS) / Math.log(GROWTH));
    this.#buckets.set(bucket, (this.#buckets.get(bucket) ?? 0) + 1);
    this.#count++;
    if (ms > this.#max) this.#max = ms;
  }

  /** The latency below which a share `q` (0–1) of the recorded ones fall, ms; 0 when none were recorded. */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (const bucket of [...this.#buckets.keys()].sort((a, b) => a - b)) {
      seen += this.#buckets.get(bucket) ?? 0;
      if (seen >= rank) return Math.min(this.#max, SMALLEST_MS * GROWTH ** bucket);
    }
    return this.#max;
  }
}
