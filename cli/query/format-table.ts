/**
 * An aligned plain-text table: a header row, then one row per line, columns
 * padded to their widest cell and separated by two spaces; the columns
 * `rightAligned` names (by index) are aligned to the right, for numbers.
 *
 * @example
 * ```ts
 * formatTable(['device', 'value'], [['pump-1', '21.5'], ['pump-10', '3']], [1]);
 * // 'device   value\npump-1    21.5\npump-10      3\n'
 * ```
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: readonly number[] = [],
): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    header
      .map((_, i) => {
        const cell = cells[i] ?? '';
        const width = widths[i] ?? 0;
        return rightAligned.includes(i) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [header, ...rows].map((cells) => `${line(cells)}\n`).join('');
}
