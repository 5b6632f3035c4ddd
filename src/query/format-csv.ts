import { numberText } from '../store/number-text.js';

/** A value of one CSV field. */
export type CsvValue = string | number;

const NEEDS_QUOTES = /[",\r\n]/;

/** One field, quoted when it holds a comma, a quote or a line break, with quotes doubled (RFC 4180 §2.6, §2.7). */
export function csvField(value: CsvValue): string {
  const text = typeof value === 'number' ? numberText(value) : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * CSV text with a header row (RFC 4180): fields separated by commas, records
 * ended by CRLF, including the last (§2.1, §2.2).
 *
 * @example
 * ```ts
 * formatCsv(['device', 'value'], [['pump-1', 21.5]]); // 'device,value\r\npump-1,21.5\r\n'
 * ```
 */
export function formatCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  return [header, ...rows].map((row) => `${row.map(csvField).join(',')}\r\n`).join('');
}
