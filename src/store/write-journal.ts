import { type FileHandle, open, readdir, readFile, unlink } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import type { StoredPoint } from './telemetry-store.js';

/** Points the journal held, in the order they were appended, and how to drop them once stored elsewhere. */
export interface JournalBatch {
  readonly points: readonly StoredPoint[];
  /** Removes the segments that held these points; call once they are stored for good. Never rejects. */
  release(): Promise<void>;
}

interface QueuedAppend {
  readonly points: readonly StoredPoint[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** A record's header: the payload's length and its CRC-32, both unsigned 32-bit little-endian. */
const HEADER_BYTES = 8;
/** A point: the indices of its device and metric names (32-bit), then its time and value (64-bit doubles). */
const POINT_BYTES = 4 + 4 + 8 + 8;

/**
 * An append-only log of points, for a store that acknowledges a write once it is on disk and moves it into its
 * database later, in larger batches (the embedded DuckDB store; docs/STORAGE.md, "The write journal").
 *
 * Points are appended to segment files `<path>.<n>`: each append is one record (length, CRC-32, then the points
 * in binary, see {@link encodeRecord}), written and `fdatasync`ed before its promise resolves; appends that arrive while one is written
 * share the next record and its sync (group commit). {@link WriteJournal.take} starts a new segment and hands over
 * every point of the earlier ones; {@link JournalBatch.release} deletes those once they are stored. What a crash
 * leaves is read back by {@link WriteJournal.open}, up to the first record that is incomplete or fails its CRC
 * (a write the crash cut short, which was never acknowledged), and handed over by the first take.
 *
 * @example
 * ```ts
 * const journal = await WriteJournal.open('/var/lib/telemetry/telemetry.duckdb.journal');
 * await journal.append([{ device: 'pump-1', metric: 'temp', ts: 1764370000000, value: 21.5 }]); // on disk now
 * const batch = await journal.take();
 * await database.insert(batch.points);
 * await batch.release();
 * await journal.close();
 * ```
 */
export class WriteJournal {
  readonly #path: string;
  #handle: FileHandle;
  /** Number of the segment appended to. */
  #current: number;
  /** Bytes written to the current segment. */
  #currentBytes = 0;
  /** Segments before the current one whose points have not been taken yet (from before a crash). */
  #earlier: number[];
  /** Durable points not yet taken, in order. */
  #points: StoredPoint[];
  /** Appends waiting for the next record. */
  #queued: QueuedAppend[] = [];
  #writeScheduled = false;
  /** After a failed write the current segment may end in part of a record: the next append starts a new one. */
  #broken = false;
  /** File operations run one after another, in the order they were asked for. */
  #lane: Promise<unknown> = Promise.resolve();
  /** The segment after the current one, being created or created (see #startSegment). */
  #spare: Promise<FileHandle> | undefined;
  #closed = false;

  private constructor(path: string, handle: FileHandle, current: number, earlier: number[], points: StoredPoint[]) {
    this.#path = path;
    this.#handle = handle;
    this.#current = current;
    this.#earlier = earlier;
    this.#points = points;
    this.#prepareSpare();
  }

  /**
   * Opens the journal whose segments are `<path>.<n>`: reads what the existing ones hold (their points come with
   * the first {@link WriteJournal.take}) and starts a new segment after them.
   */
  static async open(path: string): Promise<WriteJournal> {
    const earlier = await segmentNumbers(path);
    const points: StoredPoint[] = [];
    for (const segment of earlier) readRecords(await readFile(segmentPath(path, segment)), points);
    const current = (earlier.at(-1) ?? 0) + 1;
    const handle = await openSegment(path, current);
    return new WriteJournal(path, handle, current, earlier, points);
  }

  /** Durable points not yet taken: appended since the last take, and any read back at open. */
  get pendingPoints(): number {
    return this.#points.length;
  }

  /** Resolves once `points` are written and synced to disk; rejects with the file system's error otherwise. */
  append(points: readonly StoredPoint[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the write journal is closed'));
    return new Promise<void>((resolve, reject) => {
      this.#queued.push({ points, resolve, reject });
      if (this.#writeScheduled) return;
      this.#writeScheduled = true;
      void this.#inLane(() => this.#writeQueued());
    });
  }

  /**
   * Every durable point not yet taken, in append order, after the appends already under way; later appends go to
   * a new segment. Rejects only when the new segment cannot be created (the points stay for the next take).
   */
  take(): Promise<JournalBatch> {
    return this.#inLane(async () => {
      const points = this.#points;
      if (points.length === 0 && this.#earlier.length === 0 && this.#currentBytes === 0 && !this.#broken) {
        return { points, release: async () => undefined };
      }
      const sealed = [...this.#earlier, this.#current];
      await this.#startSegment();
      this.#earlier = [];
      this.#points = [];
      return { points, release: () => removeSegments(this.#path, sealed) };
    });
  }

  /**
   * Waits for the appends under way and closes the current segment, deleting it when nothing was written to it.
   * Points not taken stay on disk for the next {@link WriteJournal.open}.
   */
  close(): Promise<void> {
    this.#closed = true;
    return this.#inLane(async () => {
      await this.#handle.close();
      if (this.#currentBytes === 0) await removeSegments(this.#path, [this.#current]);
      const spare = await this.#spare?.catch(() => undefined);
      this.#spare = undefined;
      if (spare !== undefined) {
        await spare.close().catch(() => undefined);
        await removeSegments(this.#path, [this.#current + 1]);
      }
    });
  }

  async #writeQueued(): Promise<void> {
    this.#writeScheduled = false;
    const group = this.#queued.splice(0);
    if (group.length === 0) return;
    const points = group.length === 1 ? (group[0] as QueuedAppend).points : group.flatMap((append) => append.points);
    try {
      if (this.#broken) {
        const earlier = [...this.#earlier, this.#current];
        await this.#startSegment();
        this.#earlier = earlier;
      }
      const record = encodeRecord(points);
      await this.#handle.write(record, 0, record.length);
      await this.#handle.datasync();
      this.#currentBytes += record.length;
    } catch (error) {
      this.#broken = true;
      for (const append of group) append.reject(error);
      return;
    }
    for (const point of points) this.#points.push(point);
    for (const append of group) append.resolve();
  }

  /**
   * Closes the current segment and appends to the next from now on, which is usually created already: creating a
   * file syncs its directory, which can take long while the disk is busy, so the next segment is created as soon
   * as the one before it is in use (an empty segment left by a crash reads as no points).
   */
  async #startSegment(): Promise<void> {
    const next = this.#current + 1;
    const spare = this.#spare;
    this.#spare = undefined;
    const handle = await (spare ?? openSegment(this.#path, next));
    const previous = this.#handle;
    this.#handle = handle;
    this.#current = next;
    this.#currentBytes = 0;
    this.#broken = false;
    this.#prepareSpare();
    await previous.close().catch(() => undefined);
  }

  /** Starts creating the segment after the current one. */
  #prepareSpare(): void {
    const spare = openSegment(this.#path, this.#current + 1);
    // A failure shows when the segment is needed, which then tries again.
    spare.catch(() => undefined);
    this.#spare = spare;
  }

  #inLane<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#lane.then(operation);
    this.#lane = run.catch(() => undefined);
    return run;
  }
}

function segmentPath(path: string, segment: number): string {
  return `${path}.${segment}`;
}

/** The numbers of the existing segments of the journal at `path`, in ascending order. */
async function segmentNumbers(path: string): Promise<number[]> {
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((name) => name.startsWith(prefix) && /^[1-9][0-9]{0,15}$/.test(name.slice(prefix.length)))
    .map((name) => Number(name.slice(prefix.length)))
    .sort((a, b) => a - b);
}

/**
 * Creates segment `segment` and syncs its directory, so that the file itself, not only what is written to it,
 * survives a crash.
 */
async function openSegment(path: string, segment: number): Promise<FileHandle> {
  const handle = await open(segmentPath(path, segment), 'a');
  try {
    const directory = await open(dirname(path), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
  return handle;
}

/** Deletes the segments; one already gone is fine, and one that cannot be deleted is written again after a restart. */
async function removeSegments(path: string, segments: readonly number[]): Promise<void> {
  for (const segment of segments) await unlink(segmentPath(path, segment)).catch(() => undefined);
}

/**
 * One record: `length` (u32 LE), `crc32(payload)` (u32 LE), then the payload: the number of distinct device and
 * metric names (u32 LE), each as its UTF-8 length (u16 LE) and bytes; the number of points (u32 LE), each as the
 * index of its device and of its metric in those names (u32 LE each), its time and its value (f64 LE each). A
 * name is written once a record, however many points repeat it, so a point costs 24 bytes.
 */
export function encodeRecord(points: readonly StoredPoint[]): Buffer {
  const names = new Map<string, number>();
  const indices = new Uint32Array(points.length * 2);
  let namesBytes = 0;
  for (let index = 0; index < points.length; index++) {
    const { device, metric } = points[index] as StoredPoint;
    let deviceIndex = names.get(device);
    if (deviceIndex === undefined) {
      deviceIndex = names.size;
      names.set(device, deviceIndex);
      namesBytes += 2 + Buffer.byteLength(device);
    }
    let metricIndex = names.get(metric);
    if (metricIndex === undefined) {
      metricIndex = names.size;
      names.set(metric, metricIndex);
      namesBytes += 2 + Buffer.byteLength(metric);
    }
    indices[2 * index] = deviceIndex;
    indices[2 * index + 1] = metricIndex;
  }
  const payloadBytes = 4 + namesBytes + 4 + points.length * POINT_BYTES;
  const record = Buffer.allocUnsafe(HEADER_BYTES + payloadBytes);
  let at = record.writeUInt32LE(names.size, HEADER_BYTES);
  for (const name of names.keys()) {
    const bytes = record.write(name, at + 2, 'utf8');
    record.writeUInt16LE(bytes, at);
    at += 2 + bytes;
  }
  at = record.writeUInt32LE(points.length, at);
  for (let index = 0; index < points.length; index++) {
    const point = points[index] as StoredPoint;
    at = record.writeUInt32LE(indices[2 * index] as number, at);
    at = record.writeUInt32LE(indices[2 * index + 1] as number, at);
    at = record.writeDoubleLE(point.ts, at);
    at = record.writeDoubleLE(point.value, at);
  }
  record.writeUInt32LE(payloadBytes, 0);
  record.writeUInt32LE(crc32(record.subarray(HEADER_BYTES)), 4);
  return record;
}

/**
 * Appends to `into` the points of every whole record in `bytes`, in order, and returns how many bytes they
 * span: reading stops at the first record that is incomplete, fails its CRC or does not parse.
 */
export function readRecords(bytes: Buffer, into: StoredPoint[]): number {
  let offset = 0;
  while (offset + HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32LE(offset);
    const end = offset + HEADER_BYTES + length;
    if (end > bytes.length) break;
    const payload = bytes.subarray(offset + HEADER_BYTES, end);
    if (crc32(payload) !== bytes.readUInt32LE(offset + 4)) break;
    const points = decodePayload(payload);
    if (points === undefined) break;
    for (const point of points) into.push(point);
    offset = end;
  }
  return offset;
}

function decodePayload(payload: Buffer): StoredPoint[] | undefined {
  if (payload.length < 8) return undefined;
  const names: string[] = [];
  const nameCount = payload.readUInt32LE(0);
  let at = 4;
  for (let index = 0; index < nameCount; index++) {
    if (at + 2 > payload.length) return undefined;
    const end = at + 2 + payload.readUInt16LE(at);
    if (end > payload.length) return undefined;
    names.push(payload.toString('utf8', at + 2, end));
    at = end;
  }
  if (at + 4 > payload.length) return undefined;
  const count = payload.readUInt32LE(at);
  at += 4;
  if (at + count * POINT_BYTES !== payload.length) return undefined;
  const points: StoredPoint[] = [];
  for (let index = 0; index < count; index++) {
    const device = names[payload.readUInt32LE(at)];
    const metric = names[payload.readUInt32LE(at + 4)];
    if (device === undefined || metric === undefined) return undefined;
    points.push({ device, metric, ts: payload.readDoubleLE(at + 8), value: payload.readDoubleLE(at + 16) });
    at += POINT_BYTES;
  }
  return points;
}
