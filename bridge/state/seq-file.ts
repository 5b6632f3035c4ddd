import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SeqCounter } from '../../src/index.js';

/** Seqs reserved per write of the seq file: a restart skips at most this many, and a busy device writes it rarely. */
const BLOCK = 1_000;

/**
 * Each device's seq, kept in `<state dir>/seq.json` as the highest seq
 * reserved, so a restarted bridge never reuses one (PROTOCOL.md §2.2). The file
 * is replaced whole (a new file, then a rename) each time a device starts a new block.
 */
export class SeqFile {
  readonly #path: string;
  readonly #reserved: Record<string, number>;
  readonly #counters = new Map<string, SeqCounter>();

  constructor(dir: string) {
    this.#path = join(dir, 'seq.json');
    this.#reserved = existsSync(this.#path) ? readReserved(this.#path) : {};
  }

  /** The next seq of `device`. */
  next(device: string): number {
    let counter = this.#counters.get(device);
    if (counter === undefined) {
      counter = new SeqCounter({
        reserved: this.#reserved[device] ?? 0,
        block: BLOCK,
        reserve: (upTo) => {
          this.#reserved[device] = upTo;
          writeFileSync(`${this.#path}.new`, JSON.stringify(this.#reserved));
          renameSync(`${this.#path}.new`, this.#path);
        },
      });
      this.#counters.set(device, counter);
    }
    return counter.next();
  }
}

function readReserved(path: string): Record<string, number> {
  const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (value === null || typeof value !== 'object') throw new Error(`${path} is not a JSON object of seqs`);
  return Object.fromEntries(
    Object.entries(value).filter((entry): entry is [string, number] => typeof entry[1] === 'number'),
  );
}
