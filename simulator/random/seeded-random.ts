import { createHash } from 'node:crypto';

/**
 * A small, fast, seeded pseudo-random generator (sfc32, from PractRand) whose
 * streams are named: `SeededRandom.from(seed, 'sensors', deviceId)` always yields
 * the same numbers, and other names yield independent streams. Not for secrets.
 */
export class SeededRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  private constructor(words: readonly [number, number, number, number]) {
    [this.#a, this.#b, this.#c, this.#d] = words;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** The stream named by `seed` and `labels`. */
  static from(seed: string, ...labels: readonly string[]): SeededRandom {
    const digest = createHash('sha256')
      .update([seed, ...labels].join('\u0000'))
      .digest();
    return new SeededRandom([
      digest.readUInt32LE(0),
      digest.readUInt32LE(4),
      digest.readUInt32LE(8),
      digest.readUInt32LE(12),
    ]);
  }

  /** A number in [0, 1). */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return (t >>> 0) / 4_294_967_296;
  }

  /** A number in [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** A whole number in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Whether an event of probability `p` happens. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A normally distributed number (Box–Muller). */
  normal(mean = 0, deviation = 1): number {
    const u = 1 - this.next();
    const v = this.next();
    return mean + deviation * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
