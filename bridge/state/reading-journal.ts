import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type BacklogEntry, BoundedBacklog } from '../../src/index.js';

/** A reading waiting in the backlog: its device, its time (fixed when it arrived) and values. */
export interface JournalEntry extends BacklogEntry {
  readonly device: string;
  readonly ts: number;
  readonly values: Readonly<Record<string, number>>;
}

const BACKLOG_FILE = 'backlog.jsonl';
const SETTLED_FILE = 'settled.log';
/** Settled ids written since the last compaction before the files are rewritten. */
const COMPACT_AFTER = 50_000;

const entryLine = (e: Omit<JournalEntry, 'bytes'>) =>
  `${JSON.stringify({ id: e.id, d: e.device, ts: e.ts, v: e.values })}\n`;

/**
 * The bridge's outgoing backlog as files, so readings survive a restart (or a
 * kill) of the bridge: `backlog.jsonl` holds each reading as a line, appended
 * before the reading is acknowledged to its source; `settled.log` holds the ids
 * that left it (acknowledged by the node, refused for good, or dropped). At
 * open, and after every {@link COMPACT_AFTER} settled ids, the two are rewritten
 * into one backlog of what is still waiting (through a new file and a rename,
 * so a crash leaves the old or the new one). A line cut short by a crash is
 * the last of its file and is dropped by that rewrite. Bounded in bytes by a
 * {@link BoundedBacklog}: when full, the oldest readings are dropped.
 *
 * Writes reach the operating system before a reading is acknowledged, so they
 * survive the process being killed; without fsync, not a power cut.
 */
export class ReadingJournal {
  readonly #dir: string;
  readonly #backlog: BoundedBacklog<JournalEntry>;
  #backlogFd: number;
  #settledFd: number;
  #nextId: number;
  #settledSinceCompaction = 0;
  /** Readings found waiting when the journal was opened. */
  readonly loaded: number;

  private constructor(dir: string, backlog: BoundedBacklog<JournalEntry>, nextId: number) {
    this.#dir = dir;
    this.#backlog = backlog;
    this.#nextId = nextId;
    this.loaded = backlog.size;
    this.#backlogFd = this.#rewrite();
    this.#settledFd = openSync(join(dir, SETTLED_FILE), 'w');
  }

  /** Opens (creating) the journal in `dir`, loading what a previous run left waiting. */
  static open(dir: string, capacityBytes: number): ReadingJournal {
    mkdirSync(dir, { recursive: true });
    const settled = new Set<number>();
    const settledPath = join(dir, SETTLED_FILE);
    if (existsSync(settledPath)) {
      for (const line of readFileSync(settledPath, 'utf8').split('\n')) {
        for (const id of line.split(',')) if (/^\d+$/.test(id)) settled.add(Number(id));
      }
    }
    const backlog = new BoundedBacklog<JournalEntry>(capacityBytes);
    let nextId = 1;
    const backlogPath = join(dir, BACKLOG_FILE);
    if (existsSync(backlogPath)) {
      for (const line of readFileSync(backlogPath, 'utf8').split('\n')) {
        const entry = parseLine(line);
        if (entry === undefined) continue;
        if ('next' in entry) nextId = Math.max(nextId, entry.next);
        else {
          nextId = Math.max(nextId, entry.id + 1);
          if (!settled.has(entry.id)) backlog.add({ ...entry, bytes: entryLine(entry).length });
        }
      }
    }
    return new ReadingJournal(dir, backlog, nextId);
  }

  /** Readings waiting (in flight or not). */
  get size(): number {
    return this.#backlog.size;
  }

  /** Bytes of readings waiting. */
  get bytes(): number {
    return this.#backlog.bytes;
  }

  /** Appends a reading; resolves to it and to the readings dropped (oldest first) to make room. */
  append(reading: Omit<JournalEntry, 'id' | 'bytes'>): { entry: JournalEntry; dropped: JournalEntry[] } {
    const line = entryLine({ ...reading, id: this.#nextId });
    const entry: JournalEntry = { ...reading, id: this.#nextId++, bytes: line.length };
    const dropped = this.#backlog.add(entry);
    if (!dropped.includes(entry)) writeSync(this.#backlogFd, line);
    const settled = dropped.filter((e) => e !== entry).map((e) => e.id);
    if (settled.length > 0) this.#writeSettled(settled);
    return { entry, dropped };
  }

  /** The readings not in flight, oldest first. */
  waiting(): Generator<JournalEntry> {
    return this.#backlog.waiting();
  }

  markInFlight(ids: readonly number[]): void {
    this.#backlog.markInFlight(ids);
  }

  /** Puts in-flight readings back to waiting: the node asked for a resend. */
  release(ids: readonly number[]): void {
    this.#backlog.release(ids);
  }

  /** Removes readings for good: the node acknowledged them (2xx) or refused them for good. */
  settle(ids: readonly number[]): void {
    const held = ids.filter((id) => this.#backlog.remove(id) !== undefined);
    if (held.length > 0) this.#writeSettled(held);
  }

  close(): void {
    closeSync(this.#backlogFd);
    closeSync(this.#settledFd);
  }

  #writeSettled(ids: readonly number[]): void {
    writeSync(this.#settledFd, `${ids.join(',')}\n`);
    this.#settledSinceCompaction += ids.length;
    if (this.#settledSinceCompaction >= COMPACT_AFTER) {
      closeSync(this.#backlogFd);
      closeSync(this.#settledFd);
      this.#backlogFd = this.#rewrite();
      this.#settledFd = openSync(join(this.#dir, SETTLED_FILE), 'w');
    }
  }

  /**
   * Writes the waiting readings as a new backlog file and renames it over the
   * old one; returns it opened for appending. The settled log is emptied by the
   * caller afterwards: until then it names only ids below the new file's `next`.
   */
  #rewrite(): number {
    const path = join(this.#dir, BACKLOG_FILE);
    const fd = openSync(`${path}.new`, 'w');
    writeSync(fd, `${JSON.stringify({ next: this.#nextId })}\n`);
    // In flight or not: everything still held.
    for (const entry of this.#backlog.entries()) writeSync(fd, entryLine(entry));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(`${path}.new`, path);
    this.#settledSinceCompaction = 0;
    return openSync(path, 'a');
  }
}

/** A backlog line: a reading, the header naming the next id, or undefined for a line cut short. */
function parseLine(line: string): Omit<JournalEntry, 'bytes'> | { next: number } | undefined {
  if (line === '') return undefined;
  try {
    const value = JSON.parse(line) as { id?: unknown; d?: unknown; ts?: unknown; v?: unknown; next?: unknown };
    if (typeof value.next === 'number') return { next: value.next };
    if (typeof value.id !== 'number' || typeof value.d !== 'string' || typeof value.ts !== 'number') return undefined;
    if (value.v === null || typeof value.v !== 'object') return undefined;
    return { id: value.id, device: value.d, ts: value.ts, values: value.v as Record<string, number> };
  } catch {
    return undefined;
  }
}
