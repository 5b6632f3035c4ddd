import { describe, expect, it } from 'vitest';
import { formatCsv } from '../../src/query/format-csv.js';

describe('formatCsv', () => {
  it('writes a header row and records ended by CRLF', () => {
    expect(formatCsv(['device', 'ts', 'value'], [['pump-1', 1795867200000, 21.5]])).toBe(
      'device,ts,value\r\npump-1,1795867200000,21.5\r\n',
    );
  });

  it('quotes fields with commas, quotes or line breaks and doubles quotes (RFC 4180 §2.6, §2.7)', () => {
    expect(formatCsv(['a'], [['x,y'], ['say "hi"'], ['two\nlines'], ['cr\r'], ['plain']])).toBe(
      'a\r\n"x,y"\r\n"say ""hi"""\r\n"two\nlines"\r\n"cr\r"\r\nplain\r\n',
    );
  });

  it('writes numbers as JavaScript does, which round-trips every double', () => {
    expect(formatCsv(['v'], [[0.1 + 0.2], [1e300], [-0.5]])).toBe('v\r\n0.30000000000000004\r\n1e+300\r\n-0.5\r\n');
  });

  it('writes only the header for no rows', () => {
    expect(formatCsv(['device', 'metric'], [])).toBe('device,metric\r\n');
  });
});
