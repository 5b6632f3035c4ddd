/** A backlog entry: a stable id (increasing in arrival order) and its size in the backlog's storage. */
export interface BacklogEntry {
  readonly id: number;
  readonly bytes: number;
}

/**
 * Readings (or messages) not yet acknowledged, oldest first, bounded in bytes
 * (docs/PROTOCOL.md §13 step 3). When an entry does not fit, the oldest
 * entries that are not in flight make room and are handed back as dropped, so
 * the caller counts them; an entry larger than the whole backlog is dropped
 * itself. Pure bookkeeping: where the entries live (RAM, a file, flash) is the
 * caller's.
 *
 * @example
 * const backlog = new BoundedBacklog<Entry>(1_000_000);
 * for (const dropped of backlog.add(entry)) metrics.dropped.inc();
 */
export class BoundedBacklog<E extends BacklogEntry> {
  readonly capacityBytes: number;
  readonly #entries = new Map<number, E>();
  readonly #inFlight = new Set<number>();
  #bytes = 0;

  constructor(capacityBytes: number) {
    this.capacityBytes = capacityBytes;
  }

  /** Entries held, in flight or waiting. */
  get size(): number {
    return this.#entries.size;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds `entry`; resolves to the entries dropped to make room (oldest first), or `[entry]` when it can never fit. */
  add(entry: E): E[] {
    if (entry.bytes > this.capacityBytes) return [entry];
    const dropped: E[] = [];
    let freed = 0;
    for (const old of this.#entries.values()) {
      if (this.#bytes - freed + entry.bytes <= this.capacityBytes) break;
      if (this.#inFlight.has(old.id)) continue;
      dropped.push(old);
      freed += old.bytes;
    }
    for (const old of dropped) this.remove(old.id);
    if (this.#bytes + entry.bytes > this.capacityBytes) return [...dropped, entry];
    this.#entries.set(entry.id, entry);
    this.#bytes += entry.bytes;
    return dropped;
  }

  /** Removes the entry (acknowledged, or refused for good); undefined when it is not held. */
  remove(id: number): E | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    this.#entries.delete(id);
    this.#inFlight.delete(id);
    this.#bytes -= entry.bytes;
    return entry;
  }

  /** Every entry held, in flight or not, oldest first. */
  entries(): IterableIterator<E> {
    return this.#entries.values();
  }

  /** The entries not in flight, oldest first. */
  *waiting(): Generator<E> {
    for (const entry of this.#entries.values()) if (!this.#inFlight.has(entry.id)) yield entry;
  }

  /** Marks entries as sent and awaiting an answer: they are not dropped to make room. */
  markInFlight(ids: Iterable<number>): void {
    for (const id of ids) if (this.#entries.has(id)) this.#inFlight.add(id);
  }

  /** Puts entries in flight back to waiting (the answer asked for a retry). */
  release(ids: Iterable<number>): void {
    for (const id of ids) this.#inFlight.delete(id);
  }
}
