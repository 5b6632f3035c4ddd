/** A value of one CSV field. */
export type CsvValue = string | number;

const NEEDS_QUOTES = /[",\r\n]/;

/** One field, quoted when it holds a comma, a quote or a line break, with quotes doubled (RFC 4180 §2.6, §2.7). */
function field(value: CsvValue): string {
  const text = String(value);
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
  return formatCsvRecords([header, ...rows]);
}

/** CSV records without a header row, each ended by CRLF: the body of a CSV answer that is sent in parts. */
export function formatCsvRecords(rows: readonly (readonly CsvValue[])[]): string {
  return rows.map((row) => `${row.map(field).join(',')}\r\n`).join('');
}
