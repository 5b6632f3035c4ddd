/** How a {@link SeqCounter} keeps its place across restarts. */
export interface SeqCounterOptions {
  /** The highest seq reserved before this start (0 for a new device): the counter continues above it. */
  readonly reserved: number;
  /**
   * Persists `upTo` as the new highest reserved seq; must be durable when it
   * returns (a file written and renamed, flash written). Called once per block.
   */
  readonly reserve: (upTo: number) => void;
  /** How many seqs one call to `reserve` covers (1 persists every seq; larger saves writes and flash). */
  readonly block?: number;
}

/** The largest seq a payload may carry (docs/PROTOCOL.md §2.2). */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/**
 * A device's message sequence number (docs/PROTOCOL.md §2.2, §13 step 3):
 * monotonic, and never reused after a restart, because a block of seqs is
 * persisted (through `reserve`) before the first of them is handed out. A
 * restart skips what was left of the block, which the protocol allows.
 *
 * @example
 * const seq = new SeqCounter({ reserved: readStoredSeq(), reserve: (upTo) => storeSeq(upTo), block: 100 });
 * signMessage(signer, seq.next(), readings);
 */
export class SeqCounter {
  readonly #reserve: (upTo: number) => void;
  readonly #block: number;
  #reservedUpTo: number;
  #last: number;

  constructor(options: SeqCounterOptions) {
    this.#reserve = options.reserve;
    this.#block = Math.max(1, Math.floor(options.block ?? 1));
    this.#reservedUpTo = options.reserved;
    this.#last = options.reserved;
  }

  /** The last seq handed out (or the reserved mark it continues from). */
  get last(): number {
    return this.#last;
  }

  /** The next seq; persists a new block first when the reserved one is used up. */
  next(): number {
    if (this.#last >= MAX_SEQ) throw new RangeError('seq is exhausted (2^53 - 1 messages): the device needs a new key');
    const seq = this.#last + 1;
    if (seq > this.#reservedUpTo) {
      const upTo = Math.min(MAX_SEQ, seq + this.#block - 1);
      this.#reserve(upTo);
      this.#reservedUpTo = upTo;
    }
    this.#last = seq;
    return seq;
  }
}
