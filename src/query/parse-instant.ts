/** Milliseconds since the epoch as decimal digits, or an RFC 3339 date-time with a zone. */
export const INSTANT_PATTERN =
  '^(\\d{1,15}|\\d{4}-\\d{2}-\\d{2}[Tt ]\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?([Zz]|[+-]\\d{2}:\\d{2}))$';

const INSTANT = new RegExp(INSTANT_PATTERN);
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/**
 * Reads a point in time as the query API takes it: milliseconds since the
 * epoch, or an RFC 3339 date-time with a zone (RFC 3339 §5.6), to the
 * millisecond (digits beyond are cut). Every year RFC 3339 allows is read as
 * written, 0000 to 9999 (proleptic Gregorian, so 0001-01-01T00:00:00Z is
 * -62135596800000). Undefined when it is neither, or names a date that does
 * not exist (2026-02-30, 24:00:00).
 *
 * @example
 * ```ts
 * parseInstant('1795867200000'); // 1795867200000
 * parseInstant('2026-11-28T12:00:00Z'); // 1795867200000
 * ```
 */
export function parseInstant(text: string): number | undefined {
  if (!INSTANT.test(text)) return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  const match = RFC3339.exec(text);
  if (match === null) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zone = 'Z', sign, zh = '0', zm = '0'] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetMinutes = zone.toUpperCase() === 'Z' ? 0 : (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm));
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59 || Number(zh) > 23 || Number(zm) > 59) {
    return undefined;
  }
  // Date.UTC reads years 0-99 as 1900-1999; setUTCFullYear takes the year as it is (RFC 3339 allows 0000-9999).
  const date = new Date(Date.UTC(2000, 0, 1));
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  if (date.getUTCDate() !== day) return undefined;
  const local = date.getTime();
  const millis = fraction === '' ? 0 : Number(fraction.slice(1, 4).padEnd(3, '0'));
  return local + millis - offsetMinutes * 60_000;
}
