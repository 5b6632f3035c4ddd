/**
 * Wraps `text` at word boundaries into lines of at most `width` characters
 * (a word longer than that gets a line of its own), each starting with `indent`.
 *
 * @example
 * wrapText('Address the HTTP API listens on', 20, '  '); // ['  Address the HTTP', '  API listens on']
 */
export function wrapText(text: string, width: number, indent = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ').filter((w) => w !== '')) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return [...lines, indent + line];
}
