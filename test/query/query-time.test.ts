import { describe, expect, it } from 'vitest';
import { parseInstant } from '../../src/query/parse-instant.js';
import { parseSpan } from '../../src/query/parse-span.js';
import { resolveTime } from '../../src/query/resolve-time.js';

const NOON = Date.UTC(2026, 10, 28, 12, 0, 0);

describe('parseInstant', () => {
  it.each<[string, number]>([
    ['1795867200000', 1795867200000],
    ['0', 0],
    ['2026-11-28T12:00:00Z', NOON],
    ['2026-11-28t12:00:00z', NOON],
    ['2026-11-28 12:00:00Z', NOON],
    ['2026-11-28T13:30:00+01:30', NOON],
    ['2026-11-28T07:00:00-05:00', NOON],
    ['2026-11-28T12:00:00.5Z', NOON + 500],
    ['2026-11-28T12:00:00.123456789Z', NOON + 123],
    ['2028-02-29T00:00:00Z', Date.UTC(2028, 1, 29)],
    // Years 0000-0099 as written, not as 1900-1999 (Date.UTC's reading of two-digit years).
    ['0000-01-01T00:00:00Z', -62_167_219_200_000],
    ['0001-01-01T00:00:00Z', -62_135_596_800_000],
    ['0099-12-31T23:59:59.999Z', -59_011_459_200_001],
    ['0100-01-01T00:00:00Z', -59_011_459_200_000],
    ['0001-01-01T01:00:00+01:00', -62_135_596_800_000],
    ['0000-02-29T00:00:00Z', -62_162_121_600_000],
    ['9999-12-31T23:59:59Z', Date.UTC(9999, 11, 31, 23, 59, 59)],
  ])('reads %s', (text, expected) => {
    expect(parseInstant(text)).toBe(expected);
  });

  it.each([
    '',
    'now',
    '-1',
    '1.5',
    '2026-11-28T12:00:00',
    '2026-11-28',
    '2026-02-29T00:00:00Z',
    '0100-02-29T00:00:00Z',
    '0001-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-11-28T24:00:00Z',
    '2026-11-28T12:60:00Z',
    '2026-11-28T12:00:00+25:00',
    '1234567890123456',
  ])('refuses %j', (text) => {
    expect(parseInstant(text)).toBeUndefined();
  });
});

describe('parseSpan and resolveTime', () => {
  it.each<[string, number | undefined]>([
    ['500ms', 500],
    ['250', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    ['0s', undefined],
    ['1y', undefined],
    ['-5m', undefined],
    ['5 m', undefined],
  ])('reads the span %j as %j ms', (text, expected) => {
    expect(parseSpan(text)).toBe(expected);
  });

  it('resolves now, times before now, and absolute times', () => {
    expect(resolveTime('now', NOON)).toBe(NOON);
    expect(resolveTime('-2h', NOON)).toBe(NOON - 7_200_000);
    expect(resolveTime('2026-11-28T12:00:00Z', 0)).toBe(NOON);
    expect(resolveTime(String(NOON), 0)).toBe(NOON);
    expect(resolveTime('-2x', NOON)).toBeUndefined();
    expect(resolveTime('yesterday', NOON)).toBeUndefined();
  });
});
