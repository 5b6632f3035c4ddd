import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, InvalidCursorError, MAX_SERIES_AHEAD } from '../../src/store/cursor.js';
import { keysetPage, MAX_PAGE_LIMIT, pageLimit } from '../../src/store/keyset-page.js';
import type { ReadingsQuery, WindowedQuery } from '../../src/store/telemetry-store.js';

const query: ReadingsQuery = {
  devices: ['pump-1', 'pump-2'],
  metrics: ['temp'],
  range: { start: 1_700_000_000_000, end: 1_700_003_600_000 },
  limit: 100,
};
const key = { device: 'pump-1', metric: 'temp', ts: 1_700_000_123_456 };

function reencode(cursor: string, change: (body: Record<string, unknown>) => void): string {
  const body: Record<string, unknown> = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  change(body);
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

describe('cursor', () => {
  it('gives back the sort key it was made from', () => {
    expect(decodeCursor(query, encodeCursor(query, key))).toEqual(key);
  });

  it('carries the series after it with the points the store counted, within its length', () => {
    const ahead = [
      { device: 'pump-1', metric: 'temp', points: 1_234 },
      { device: 'pump-2', metric: 'temp', points: 0 },
    ];
    expect(decodeCursor(query, encodeCursor(query, key, ahead))).toEqual({ ...key, ahead });
    expect(decodeCursor(query, encodeCursor(query, key))).not.toHaveProperty('ahead');
    // The longest names the protocol allows, as many series as a cursor tells of, the largest counts.
    const longest = { device: 'd'.repeat(64), metric: 'm'.repeat(64), ts: Number.MAX_SAFE_INTEGER };
    const many = Array.from({ length: MAX_SERIES_AHEAD + 3 }, () => ({ ...longest, points: Number.MAX_SAFE_INTEGER }));
    const cursor = encodeCursor(query, longest, many);
    expect(decodeCursor(query, cursor).ahead).toHaveLength(MAX_SERIES_AHEAD);
    for (const a of [[['pump-1', 'temp', -1]], [['pump-1', 'temp', 1.5]], [['pump-1', 7, 1]], [[]], 'x', [null]]) {
      expect(() =>
        decodeCursor(
          query,
          reencode(cursor, (body) => Object.assign(body, { a })),
        ),
      ).toThrow(InvalidCursorError);
    }
    const tooMany = Array.from({ length: MAX_SERIES_AHEAD + 1 }, () => ['pump-1', 'temp', 1]);
    expect(() =>
      decodeCursor(
        query,
        reencode(cursor, (body) => Object.assign(body, { a: tooMany })),
      ),
    ).toThrow(InvalidCursorError);
  });

  it('continues the same query whatever the page size or the order of devices and metrics', () => {
    const cursor = encodeCursor(query, key);
    expect(decodeCursor({ ...query, devices: ['pump-2', 'pump-1', 'pump-1'], limit: 7 }, cursor)).toEqual(key);
  });

  it.each<[string, ReadingsQuery | WindowedQuery]>([
    ['other devices', { ...query, devices: ['pump-1'] }],
    ['other metrics', { ...query, metrics: undefined }],
    ['another range', { ...query, range: { ...query.range, end: query.range.end + 1 } }],
    ['a windowed query', { ...query, windowMs: 60_000, aggregate: 'mean' }],
  ])('rejects a cursor used for %s', (_, other) => {
    expect(() => decodeCursor(other, encodeCursor(query, key))).toThrow(InvalidCursorError);
  });

  it('rejects a cursor of windows with another window or aggregate', () => {
    const windowed: WindowedQuery = { ...query, windowMs: 60_000, aggregate: 'mean' };
    const cursor = encodeCursor(windowed, key);
    expect(() => decodeCursor({ ...windowed, windowMs: 1_000 }, cursor)).toThrow(InvalidCursorError);
    expect(() => decodeCursor({ ...windowed, aggregate: 'max' }, cursor)).toThrow(InvalidCursorError);
  });

  it.each([
    ['not base64url', 'abc+/='],
    ['empty', ''],
    ['not JSON', Buffer.from('{nope').toString('base64url')],
    ['JSON of the wrong shape', Buffer.from('[1,2,3]').toString('base64url')],
    ['too long', 'A'.repeat(10_000)],
  ])('rejects a cursor that is %s, with code ERR_CURSOR_INVALID', (_, cursor) => {
    expect(() => decodeCursor(query, cursor)).toThrow(expect.objectContaining({ code: 'ERR_CURSOR_INVALID' }));
  });

  it('rejects a cursor whose time is not an integer or whose version is unknown', () => {
    const cursor = encodeCursor(query, key);
    expect(() =>
      decodeCursor(
        query,
        reencode(cursor, (b) => Object.assign(b, { t: 1.5 })),
      ),
    ).toThrow(InvalidCursorError);
    expect(() =>
      decodeCursor(
        query,
        reencode(cursor, (b) => Object.assign(b, { v: 2 })),
      ),
    ).toThrow(InvalidCursorError);
  });
});

describe('keysetPage', () => {
  const rows = [0, 1, 2].map((i) => ({ ...key, ts: key.ts + i, value: i }));

  it('returns every row and no cursor when no extra row was fetched', () => {
    expect(keysetPage(query, rows, 3)).toEqual({ items: rows });
  });

  it('drops the extra row and points the cursor after the last row returned', () => {
    const page = keysetPage(query, rows, 2);
    expect(page.items).toEqual(rows.slice(0, 2));
    expect(decodeCursor(query, page.nextCursor ?? '')).toEqual({ ...key, ts: key.ts + 1 });
  });

  it('caps the page size and refuses one that is not a positive integer', () => {
    expect(pageLimit(50)).toBe(50);
    expect(pageLimit(1_000_000)).toBe(MAX_PAGE_LIMIT);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => pageLimit(bad)).toThrow(RangeError);
  });
});
