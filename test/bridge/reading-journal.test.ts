import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deliveryMark } from '../../bridge/state/delivery-window.js';
import { ReadingJournal } from '../../bridge/state/reading-journal.js';
import { SeqFile } from '../../bridge/state/seq-file.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reading-journal-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const reading = (n: number) => ({ device: 'plug-1', ts: 1_796_420_000_000 + n, values: { power: n } });

describe('ReadingJournal', () => {
  it('gives a restarted bridge back what was neither acknowledged nor refused, in arrival order', () => {
    const journal = ReadingJournal.open(dir, 1_000_000);
    const ids = [1, 2, 3, 4].map((n) => journal.append([reading(n)]).entries[0]?.id ?? 0);
    journal.markInFlight([ids[0] ?? 0, ids[1] ?? 0]);
    journal.settle([ids[0] ?? 0]);
    journal.close();
    const reopened = ReadingJournal.open(dir, 1_000_000);
    expect(reopened.loaded).toBe(3);
    expect([...reopened.waiting()].map((e) => e.values.power)).toEqual([2, 3, 4]);
    reopened.close();
  });

  it('never reuses the id of a reading that left it, so a stale settled log cannot remove a new reading', () => {
    const journal = ReadingJournal.open(dir, 1_000_000);
    const [entry] = journal.append([reading(1)]).entries;
    journal.settle([entry?.id ?? 0]);
    journal.close();
    const reopened = ReadingJournal.open(dir, 1_000_000);
    expect(reopened.append([reading(2)]).entries[0]?.id).toBeGreaterThan(entry?.id ?? 0);
    reopened.close();
  });

  it('drops a line a crash cut short, and keeps the rest', async () => {
    const journal = ReadingJournal.open(dir, 1_000_000);
    journal.append([reading(1)]);
    journal.close();
    await appendFile(join(dir, 'backlog.jsonl'), '{"id":2,"d":"plug-1","ts":17');
    const reopened = ReadingJournal.open(dir, 1_000_000);
    reopened.append([reading(3)]);
    reopened.close();
    const again = ReadingJournal.open(dir, 1_000_000);
    expect([...again.waiting()].map((e) => e.values.power)).toEqual([1, 3]);
    again.close();
  });

  it('drops the oldest readings when full, and they stay dropped after a restart', () => {
    const journal = ReadingJournal.open(dir, 200);
    const dropped = [1, 2, 3, 4].flatMap((n) => journal.append([reading(n)]).dropped.map((e) => e.values.power));
    expect(dropped).toEqual([1]);
    journal.close();
    const reopened = ReadingJournal.open(dir, 200);
    expect([...reopened.waiting()].map((e) => e.values.power)).toEqual([2, 3, 4]);
    reopened.close();
  });
});

describe('ReadingJournal, the MQTT messages it wrote', () => {
  const mark = (packetId: number, payload = 'p') => deliveryMark(packetId, 'zigbee2mqtt/kitchen', Buffer.from(payload));

  it('remembers each message it wrote across restarts, by packet id, topic and payload together', () => {
    const journal = ReadingJournal.open(dir, 1_000_000);
    journal.append([reading(1)], mark(1));
    // A message that carried no reading is remembered too: its redelivery must not count its skips again.
    journal.append([], mark(2));
    journal.close();
    // Twice: the first open reads the appended lines, the second what the first rewrote.
    ReadingJournal.open(dir, 1_000_000).close();
    const reopened = ReadingJournal.open(dir, 1_000_000);
    expect([reopened.holdsDelivery(mark(1)), reopened.holdsDelivery(mark(2))]).toEqual([true, true]);
    expect(reopened.holdsDelivery(mark(1, 'other payload'))).toBe(false);
    expect(reopened.holdsDelivery(deliveryMark(1, 'zigbee2mqtt/hall', Buffer.from('p')))).toBe(false);
    expect(reopened.holdsDelivery(mark(3))).toBe(false);
    expect([...reopened.waiting()].map((e) => e.values.power)).toEqual([1]);
    reopened.close();
  });

  it('keeps the newest marks only, one per packet id, so the file stays bounded however many messages came', async () => {
    const journal = ReadingJournal.open(dir, 1_000_000, 3);
    for (let n = 1; n <= 2_000; n++) journal.append([], mark(n));
    // Packet id 1999 comes again for a new message: the old mark gives way.
    journal.append([], mark(1_999, 'new'));
    journal.close();
    const reopened = ReadingJournal.open(dir, 1_000_000, 3);
    expect([1_998, 1_999, 2_000].map((n) => reopened.holdsDelivery(mark(n)))).toEqual([true, false, true]);
    expect(reopened.holdsDelivery(mark(1_999, 'new'))).toBe(true);
    expect(reopened.holdsDelivery(mark(1_997))).toBe(false);
    reopened.close();
    // The header and three marks of about 60 bytes each.
    expect((await stat(join(dir, 'backlog.jsonl'))).size).toBeLessThan(300);
  });

  it('forgets a mark for good once told it is stale, and writes nothing for a mark it does not hold', async () => {
    const journal = ReadingJournal.open(dir, 1_000_000);
    journal.append([reading(1)], mark(5));
    const before = (await stat(join(dir, 'backlog.jsonl'))).size;
    journal.forgetDelivery(mark(5, 'another message'));
    expect((await stat(join(dir, 'backlog.jsonl'))).size).toBe(before);
    journal.forgetDelivery(mark(5));
    expect(journal.holdsDelivery(mark(5))).toBe(false);
    journal.close();
    const reopened = ReadingJournal.open(dir, 1_000_000);
    expect(reopened.holdsDelivery(mark(5))).toBe(false);
    expect([...reopened.waiting()].map((e) => e.values.power)).toEqual([1]);
    reopened.close();
  });

  it('takes an input whole or not at all: a write a crash cut short leaves neither its readings nor its mark', async () => {
    const journal = ReadingJournal.open(dir, 1_000_000);
    journal.append([reading(1), reading(2)], mark(1));
    journal.close();
    // The next message's write was cut after its first reading line.
    await appendFile(
      join(dir, 'backlog.jsonl'),
      `${JSON.stringify({ n: 2, pid: 2, h: mark(2).digest })}\n${JSON.stringify({ id: 3, d: 'plug-1', ts: 3, v: { power: 3 } })}\n`,
    );
    const reopened = ReadingJournal.open(dir, 1_000_000);
    expect([...reopened.waiting()].map((e) => e.values.power)).toEqual([1, 2]);
    expect([reopened.holdsDelivery(mark(1)), reopened.holdsDelivery(mark(2))]).toEqual([true, false]);
    // Its id is not handed out again.
    expect(reopened.append([reading(4)]).entries[0]?.id).toBeGreaterThan(3);
    reopened.close();
  });
});

describe('SeqFile', () => {
  it('never hands out a seq twice across restarts', async () => {
    const first = new SeqFile(dir);
    expect([first.next('a'), first.next('a'), first.next('b')]).toEqual([1, 2, 1]);
    const restarted = new SeqFile(dir);
    expect(restarted.next('a')).toBeGreaterThan(2);
    expect(JSON.parse(await readFile(join(dir, 'seq.json'), 'utf8'))).toHaveProperty('b');
  });
});
