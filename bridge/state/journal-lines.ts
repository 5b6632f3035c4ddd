import type { DeliveryMark } from './delivery-window.js';

/*
 * The lines of the bridge's backlog file (`backlog.jsonl`), one JSON object each:
 *
 * - `{"next":N}`: the first line after a rewrite; ids below N were given out before.
 * - `{"n":N}` or `{"n":N,"pid":P,"h":H}`: N reading lines follow, written in one write; the group counts only
 *   when all N are there. `pid` and `h` are the MQTT message's packet id and digest ({@link DeliveryMark}).
 * - `{"id":I,"d":device,"ts":T,"v":{metric:value}}`: one reading.
 * - `{"forget":P}`: the mark with packet id P is stale (see ReadingJournal.forgetDelivery).
 */

/** A reading as its line holds it: its id in the journal, its device, its time (fixed when it arrived) and values. */
export interface JournalReading {
  readonly id: number;
  readonly device: string;
  readonly ts: number;
  readonly values: Readonly<Record<string, number>>;
}

/** A reading's line. */
export const entryLine = (e: JournalReading) => `${JSON.stringify({ id: e.id, d: e.device, ts: e.ts, v: e.values })}\n`;

/** The line before the `n` reading lines of one write: the group is whole only with all of them. */
export const groupLine = (n: number, mark: DeliveryMark | undefined) =>
  `${JSON.stringify(mark === undefined ? { n } : { n, pid: mark.packetId, h: mark.digest })}\n`;

/** The first line of a rewritten file: the next id to give. */
export const nextLine = (next: number) => `${JSON.stringify({ next })}\n`;

/** A stale delivery mark, forgotten. */
export const forgetLine = (packetId: number) => `${JSON.stringify({ forget: packetId })}\n`;

/** A line of the backlog file, or undefined for a line cut short. */
type BacklogLine =
  | { kind: 'reading'; entry: JournalReading }
  | { kind: 'next'; next: number }
  | { kind: 'group'; n: number; mark: DeliveryMark | undefined }
  | { kind: 'forget'; packetId: number };

export function parseLine(line: string): BacklogLine | undefined {
  if (line === '') return undefined;
  let value: {
    id?: unknown;
    d?: unknown;
    ts?: unknown;
    v?: unknown;
    next?: unknown;
    n?: unknown;
    pid?: unknown;
    h?: unknown;
    forget?: unknown;
  };
  try {
    value = JSON.parse(line) as typeof value;
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  if (typeof value.next === 'number') return { kind: 'next', next: value.next };
  if (typeof value.forget === 'number') return { kind: 'forget', packetId: value.forget };
  if (typeof value.n === 'number') {
    const mark =
      typeof value.pid === 'number' && typeof value.h === 'string'
        ? { packetId: value.pid, digest: value.h }
        : undefined;
    return { kind: 'group', n: value.n, mark };
  }
  if (typeof value.id !== 'number' || typeof value.d !== 'string' || typeof value.ts !== 'number') return undefined;
  if (value.v === null || typeof value.v !== 'object') return undefined;
  return {
    kind: 'reading',
    entry: { id: value.id, device: value.d, ts: value.ts, values: value.v as Record<string, number> },
  };
}
