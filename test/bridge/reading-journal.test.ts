import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
    const ids = [1, 2, 3, 4].map((n) => journal.append(reading(n)).entry.id);
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
    const { entry } = journal.append(reading(1));
    journal.settle([entry.id]);
    journal.close();
    const reopened = ReadingJournal.open(dir, 1_000_000);
    expect(reopened.append(reading(2)).entry.id).toBeGreaterThan(entry.id);
    reopened.close();
  });

  it('drops a line a crash cut short, and keeps the rest', async () => {
    const journal = ReadingJournal.open(dir, 1_000_000);
    journal.append(reading(1));
    journal.close();
    await appendFile(join(dir, 'backlog.jsonl'), '{"id":2,"d":"plug-1","ts":17');
    const reopened = ReadingJournal.open(dir, 1_000_000);
    reopened.append(reading(3));
    reopened.close();
    const again = ReadingJournal.open(dir, 1_000_000);
    expect([...again.waiting()].map((e) => e.values.power)).toEqual([1, 3]);
    again.close();
  });

  it('drops the oldest readings when full, and they stay dropped after a restart', () => {
    const journal = ReadingJournal.open(dir, 200);
    const dropped = [1, 2, 3, 4].flatMap((n) => journal.append(reading(n)).dropped.map((e) => e.values.power));
    expect(dropped).toEqual([1]);
    journal.close();
    const reopened = ReadingJournal.open(dir, 200);
    expect([...reopened.waiting()].map((e) => e.values.power)).toEqual([2, 3, 4]);
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
