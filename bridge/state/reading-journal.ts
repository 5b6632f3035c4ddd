import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { type BacklogEntry, BoundedBacklog } from '../../src/index.js';
import { type DeliveryMark, DeliveryWindow } from './delivery-window.js';
import { entryLine, forgetLine, groupLine, type JournalReading, nextLine, parseLine } from './journal-lines.js';

/** A reading waiting in the backlog: its device, its time (fixed when it arrived) and values, and its size. */
export interface JournalEntry extends BacklogEntry, JournalReading {}

const BACKLOG_FILE = 'backlog.jsonl';
const SETTLED_FILE = 'settled.log';
/** Settled ids and delivery lines written since the last compaction before the files are rewritten. */
const COMPACT_AFTER = 50_000;
/**
 * MQTT messages the journal remembers having written (see {@link DeliveryWindow}).
 * It must cover every message whose PUBACK may not have reached the broker when
 * the bridge stops, at most the broker's in-flight limit (Mosquitto's
 * `max_inflight_messages`, 20 by default), and stay well below the 65 535 packet
 * ids, so that a broker handing them out in turn (Mosquitto does) reuses an id
 * only long after its mark was forgotten. About 50 bytes each on disk.
 */
const DELIVERY_WINDOW_MESSAGES = 4096;

/** A reading waiting in the backlog, before the journal gave it an id. */
export type NewReading = Omit<JournalEntry, 'id' | 'bytes'>;

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
 * The readings of one input go in one write, after a line that says how many
 * follow (and, for an MQTT message, its {@link DeliveryMark}); a group a crash
 * cut short is dropped whole at open, so an input is in the journal entirely
 * or not at all. The marks of the last {@link DELIVERY_WINDOW_MESSAGES} MQTT
 * messages survive compaction as groups of no readings, so a restarted bridge
 * still knows which messages it wrote down (docs/BRIDGE.md, "Redelivery").
 *
 * Writes reach the operating system before a reading is acknowledged, so they
 * survive the process being killed; without fsync, not a power cut.
 */
export class ReadingJournal {
  readonly #dir: string;
  readonly #backlog: BoundedBacklog<JournalEntry>;
  readonly #deliveries: DeliveryWindow;
  #backlogFd: number;
  #settledFd: number;
  #nextId: number;
  #linesSinceCompaction = 0;
  /** Readings found waiting when the journal was opened. */
  readonly loaded: number;
  /**
   * Each device's latest reading time in the file when it was opened, settled readings included: arrival times a
   * previous run gave may have run ahead of the clock, and a new run must not give them again (see ReadingIntake).
   */
  readonly latestTimes: ReadonlyMap<string, number>;

  private constructor(
    dir: string,
    backlog: BoundedBacklog<JournalEntry>,
    deliveries: DeliveryWindow,
    nextId: number,
    latestTimes: ReadonlyMap<string, number>,
  ) {
    this.latestTimes = latestTimes;
    this.#dir = dir;
    this.#backlog = backlog;
    this.#deliveries = deliveries;
    this.#nextId = nextId;
    this.loaded = backlog.size;
    this.#backlogFd = this.#rewrite();
    this.#settledFd = openSync(join(dir, SETTLED_FILE), 'w');
  }

  /** Opens (creating) the journal in `dir`, loading what a previous run left waiting. */
  static open(dir: string, capacityBytes: number, deliveryWindow = DELIVERY_WINDOW_MESSAGES): ReadingJournal {
    mkdirSync(dir, { recursive: true });
    const settled = new Set<number>();
    const settledPath = join(dir, SETTLED_FILE);
    if (existsSync(settledPath)) {
      for (const line of readFileSync(settledPath, 'utf8').split('\n')) {
        for (const id of line.split(',')) if (/^\d+$/.test(id)) settled.add(Number(id));
      }
    }
    const backlog = new BoundedBacklog<JournalEntry>(capacityBytes);
    const deliveries = new DeliveryWindow(deliveryWindow);
    let nextId = 1;
    const latestTimes = new Map<string, number>();
    const take = (entry: JournalReading) => {
      if (!settled.has(entry.id)) backlog.add({ ...entry, bytes: entryLine(entry).length });
    };
    /** The group being read: its mark and the readings still to come; taken only once whole. */
    let group: { mark: DeliveryMark | undefined; n: number; entries: JournalReading[] } | undefined;
    const backlogPath = join(dir, BACKLOG_FILE);
    const lines = existsSync(backlogPath) ? readFileSync(backlogPath, 'utf8').split('\n') : [];
    for (const line of lines) {
      const parsed = parseLine(line);
      if (parsed === undefined) continue;
      if (parsed.kind === 'reading') {
        nextId = Math.max(nextId, parsed.entry.id + 1);
        latestTimes.set(parsed.entry.device, Math.max(latestTimes.get(parsed.entry.device) ?? 0, parsed.entry.ts));
      }
      if (group !== undefined && parsed.kind === 'reading') {
        group.entries.push(parsed.entry);
      } else {
        // Only the last write can be cut short, so a group is followed by its readings or by nothing.
        group = undefined;
        if (parsed.kind === 'next') nextId = Math.max(nextId, parsed.next);
        else if (parsed.kind === 'forget') deliveries.forget(parsed.packetId);
        else if (parsed.kind === 'reading') take(parsed.entry);
        else group = { mark: parsed.mark, n: parsed.n, entries: [] };
      }
      if (group !== undefined && group.entries.length === group.n) {
        if (group.mark !== undefined) deliveries.add(group.mark);
        for (const entry of group.entries) take(entry);
        group = undefined;
      }
    }
    return new ReadingJournal(dir, backlog, deliveries, nextId, latestTimes);
  }

  /** Readings waiting (in flight or not). */
  get size(): number {
    return this.#backlog.size;
  }

  /** Bytes of readings waiting. */
  get bytes(): number {
    return this.#backlog.bytes;
  }

  /**
   * Appends the readings of one input in one write, with the mark of the MQTT
   * message they came from (remembered even when it carried no reading);
   * returns them and the readings dropped (oldest first) to make room.
   */
  append(
    readings: readonly NewReading[],
    delivery?: DeliveryMark,
  ): { entries: JournalEntry[]; dropped: JournalEntry[] } {
    const entries: JournalEntry[] = [];
    const dropped: JournalEntry[] = [];
    for (const reading of readings) {
      const id = this.#nextId++;
      const entry: JournalEntry = { ...reading, id, bytes: entryLine({ ...reading, id }).length };
      entries.push(entry);
      dropped.push(...this.#backlog.add(entry));
    }
    // A reading of this input dropped already (too big, or pushed out by a later one of it) is not written.
    const gone = new Set(dropped);
    const held = entries.filter((e) => !gone.has(e));
    const lines = held.map(entryLine).join('');
    try {
      this.#appendToBacklog(
        delivery !== undefined || held.length > 1 ? groupLine(held.length, delivery) + lines : lines,
      );
    } catch (error) {
      // Not written, so not acknowledged: the source sends it again, and it must not be waiting twice.
      for (const entry of held) this.#backlog.remove(entry.id);
      throw error;
    }
    if (delivery !== undefined) {
      this.#deliveries.add(delivery);
      this.#linesSinceCompaction++;
    }
    const settled = dropped.filter((e) => !entries.includes(e)).map((e) => e.id);
    if (settled.length > 0) this.#writeSettled(settled);
    else if (delivery !== undefined) this.#compactIfDue();
    return { entries, dropped };
  }

  /** Whether this MQTT message (packet id, topic and payload) is one the journal wrote. */
  holdsDelivery(mark: DeliveryMark): boolean {
    return this.#deliveries.holds(mark);
  }

  /**
   * Forgets a mark the broker has shown to be stale: it sent a new message
   * (DUP clear) with the same packet id, topic and payload, which it can do
   * only after the one the mark stands for was acknowledged. Written down
   * before the new message is taken, so that if the bridge dies first, the
   * new message's redelivery is not mistaken for the old one's.
   */
  forgetDelivery(mark: DeliveryMark): void {
    if (!this.#deliveries.holds(mark)) return;
    this.#appendToBacklog(forgetLine(mark.packetId));
    this.#deliveries.forget(mark.packetId);
    this.#linesSinceCompaction++;
    this.#compactIfDue();
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
    this.#linesSinceCompaction += ids.length;
    this.#compactIfDue();
  }

  /**
   * Appends whole lines to the backlog file, or nothing: a write that fails
   * part-way (a full disk) is cut back off, so that no partial line or group
   * sits in the middle of the file, where the next lines would join it.
   */
  #appendToBacklog(text: string): void {
    if (text === '') return;
    const bytes = Buffer.from(text);
    const length = fstatSync(this.#backlogFd).size;
    try {
      for (let written = 0; written < bytes.length; ) {
        written += writeSync(this.#backlogFd, bytes, written);
      }
    } catch (error) {
      ftruncateSync(this.#backlogFd, length);
      throw error;
    }
  }

  #compactIfDue(): void {
    if (this.#linesSinceCompaction >= COMPACT_AFTER) {
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
    writeSync(fd, nextLine(this.#nextId));
    for (const mark of this.#deliveries.marks()) writeSync(fd, groupLine(0, mark));
    // In flight or not: everything still held.
    for (const entry of this.#backlog.entries()) writeSync(fd, entryLine(entry));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(`${path}.new`, path);
    this.#linesSinceCompaction = 0;
    return openSync(path, 'a');
  }
}
