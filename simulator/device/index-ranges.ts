/** Inclusive ranges of reading indices, `[first, last]`, sorted and merged. */
export type IndexRange = readonly [number, number];

/** A set of reading indices kept as merged ranges, so a run's report stays small. */
export class IndexRanges {
  #ranges: [number, number][] = [];
  #size = 0;

  /** How many indices the set holds. */
  get size(): number {
    return this.#size;
  }

  /** Adds `first` … `last` (inclusive); indices already present are not counted twice. */
  add(first: number, last: number): void {
    if (last < first) return;
    const merged: [number, number][] = [];
    let lo = first;
    let hi = last;
    let inserted = false;
    let size = 0;
    for (const range of this.#ranges) {
      if (range[1] < lo - 1) merged.push(range);
      else if (range[0] > hi + 1) {
        if (!inserted) merged.push([lo, hi]);
        inserted = true;
        merged.push(range);
      } else {
        lo = Math.min(lo, range[0]);
        hi = Math.max(hi, range[1]);
      }
    }
    if (!inserted) merged.push([lo, hi]);
    for (const range of merged) size += range[1] - range[0] + 1;
    this.#ranges = merged.sort((a, b) => a[0] - b[0]);
    this.#size = size;
  }

  has(index: number): boolean {
    return this.#ranges.some(([first, last]) => index >= first && index <= last);
  }

  toJSON(): IndexRange[] {
    return this.#ranges.map(([first, last]) => [first, last] as const);
  }
}

/** Every index of `ranges`, in order. */
export function* indicesOf(ranges: readonly IndexRange[]): Generator<number> {
  for (const [first, last] of ranges) for (let i = first; i <= last; i++) yield i;
}
