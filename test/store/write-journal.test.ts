import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredPoint } from '../../src/store/telemetry-store.js';
import { encodeRecord, readRecords, WriteJournal } from '../../src/store/write-journal.js';

let folder: string;
let count = 0;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'write-journal-'));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** A journal path of its own in the test folder. */
function freshPath(): string {
  count += 1;
  return join(folder, `j${count}.duckdb.journal`);
}

function point(i: number, device = 'pump-1'): StoredPoint {
  return { device, metric: 'temp', ts: 1_764_370_000_000 + i, value: i / 3 };
}

/** The segment files of the journal at `path`, by name. */
async function segments(path: string): Promise<string[]> {
  const prefix = `${path.slice(folder.length + 1)}.`;
  return (await readdir(folder)).filter((name) => name.startsWith(prefix)).sort();
}

describe('WriteJournal records', () => {
  it('reads back exactly the points it wrote, whatever their names and numbers', () => {
    const points: StoredPoint[] = [
      { device: 'pümp-€-1', metric: 'température', ts: 1_764_370_000_123, value: -0 },
      { device: 'x', metric: 'y', ts: -1, value: Number.MAX_VALUE },
      { device: 'd'.repeat(300), metric: 'm', ts: 2 ** 53 - 1, value: 5e-324 },
    ];
    const bytes = Buffer.concat([encodeRecord(points), encodeRecord([]), encodeRecord(points.slice(0, 1))]);
    const read: StoredPoint[] = [];
    expect(readRecords(bytes, read)).toBe(bytes.length);
    expect(read).toEqual([...points, points[0]]);
    expect(Object.is(read[0]?.value, -0)).toBe(true);
  });

  it('stops at a record cut short or changed, keeping the whole records before it', () => {
    const first = encodeRecord([point(1), point(2)]);
    const second = encodeRecord([point(3)]);
    for (const cut of [1, 7, 8, second.length - 1]) {
      const read: StoredPoint[] = [];
      expect(readRecords(Buffer.concat([first, second.subarray(0, cut)]), read)).toBe(first.length);
      expect(read).toEqual([point(1), point(2)]);
    }
    const changed = Buffer.from(second);
    changed[changed.length - 1] = (changed[changed.length - 1] ?? 0) ^ 1;
    const read: StoredPoint[] = [];
    expect(readRecords(Buffer.concat([first, changed, encodeRecord([point(4)])]), read)).toBe(first.length);
    expect(read).toEqual([point(1), point(2)]);
  });
});

describe('WriteJournal', () => {
  it('hands over what a process appended and never took when the journal is opened again, in order', async () => {
    const path = freshPath();
    const journal = await WriteJournal.open(path);
    await journal.append([point(1), point(2)]);
    await journal.append([point(3)]);
    // No close: as a process that is killed leaves it.
    const again = await WriteJournal.open(path);
    expect(again.pendingPoints).toBe(3);
    await again.append([point(4)]);
    const batch = await again.take();
    expect(batch.points).toEqual([point(1), point(2), point(3), point(4)]);
    await batch.release();
    await again.close();
    await journal.close();
    expect(await segments(path)).toEqual([]);
  });

  it('writes appends made in the same turn of the event loop as one record', async () => {
    const path = freshPath();
    const journal = await WriteJournal.open(path);
    await Promise.all(Array.from({ length: 50 }, (_, i) => journal.append([point(i)])));
    const [segment] = await segments(path);
    const bytes = await readFile(join(folder, segment ?? ''));
    // One record, so one write and one sync, for all 50.
    expect(bytes.length).toBe(encodeRecord(Array(50).fill(point(0))).length);
    const batch = await journal.take();
    expect(batch.points).toEqual(Array.from({ length: 50 }, (_, i) => point(i)));
    await batch.release();
    await journal.close();
  });

  it('starts a new segment on take, and deletes the taken ones only on release', async () => {
    const path = freshPath();
    const journal = await WriteJournal.open(path);
    await journal.append([point(1)]);
    const batch = await journal.take();
    await journal.append([point(2)]);
    // The taken segment, the current one, and the next, created ahead of need.
    expect(await segments(path)).toHaveLength(3);
    // Not released yet: a crash now would write point 1 again, which a store's idempotent write allows.
    const reopened = await WriteJournal.open(path);
    expect(reopened.pendingPoints).toBe(2);
    await reopened.close();
    await batch.release();
    expect(journal.pendingPoints).toBe(1);
    const next = await journal.take();
    expect(next.points).toEqual([point(2)]);
    await next.release();
    await journal.close();
    expect(await segments(path)).toEqual([]);
  });

  it('takes nothing without a new segment when nothing was appended', async () => {
    const path = freshPath();
    const journal = await WriteJournal.open(path);
    const before = await segments(path);
    const batch = await journal.take();
    expect(batch.points).toEqual([]);
    expect(await segments(path)).toEqual(before);
    await journal.close();
    expect(await segments(path)).toEqual([]);
  });

  it('keeps the points before a torn record a crash left, and appends after it in a new segment', async () => {
    const path = freshPath();
    const journal = await WriteJournal.open(path);
    await journal.append([point(1)]);
    const [segment] = await segments(path);
    await appendFile(join(folder, segment ?? ''), encodeRecord([point(2)]).subarray(0, 12));
    const reopened = await WriteJournal.open(path);
    await reopened.append([point(3)]);
    const batch = await reopened.take();
    expect(batch.points).toEqual([point(1), point(3)]);
    await batch.release();
    await reopened.close();
    await journal.close();
    expect(await segments(path)).toEqual([]);
  });

  it('ignores files beside it that are not its segments', async () => {
    const path = freshPath();
    await writeFile(`${path}.old`, 'not a segment');
    await writeFile(`${path}.07`, 'not a segment either');
    const journal = await WriteJournal.open(path);
    expect(journal.pendingPoints).toBe(0);
    await journal.close();
    expect(await segments(path)).toEqual([
      `${path.slice(folder.length + 1)}.07`,
      `${path.slice(folder.length + 1)}.old`,
    ]);
  });

  it('refuses appends once closed', async () => {
    const journal = await WriteJournal.open(freshPath());
    await journal.close();
    await expect(journal.append([point(1)])).rejects.toThrow('closed');
  });
});
