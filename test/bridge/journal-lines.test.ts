import { describe, expect, it } from 'vitest';
import { entryLine, forgetLine, groupLine, nextLine, parseLine } from '../../bridge/state/journal-lines.js';

const reading = { id: 7, device: 'kitchen', ts: 1_764_370_000_123, values: { temperature: 21.5, humidity: 40 } };
/** A line as the journal writes it, without its newline, as the journal reads it back after splitting. */
const bare = (line: string) => line.slice(0, -1);

describe('The lines of the bridge backlog file', () => {
  it('read back as what was written, one kind per line', () => {
    expect(parseLine(bare(entryLine(reading)))).toEqual({ kind: 'reading', entry: reading });
    expect(parseLine(bare(nextLine(42)))).toEqual({ kind: 'next', next: 42 });
    expect(parseLine(bare(groupLine(3, undefined)))).toEqual({ kind: 'group', n: 3, mark: undefined });
    const mark = { packetId: 513, digest: 'q1w2e3' };
    expect(parseLine(bare(groupLine(0, mark)))).toEqual({ kind: 'group', n: 0, mark });
    expect(parseLine(bare(forgetLine(513)))).toEqual({ kind: 'forget', packetId: 513 });
  });

  it('end with a newline each, so that an append never joins the line before it', () => {
    for (const line of [entryLine(reading), nextLine(1), groupLine(1, undefined), forgetLine(1)]) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line.indexOf('\n')).toBe(line.length - 1);
    }
  });

  it('are nothing when cut short by a crash, empty, or of no known shape', () => {
    const whole = bare(entryLine(reading));
    for (let cut = 1; cut < whole.length; cut++) expect(parseLine(whole.slice(0, cut))).toBeUndefined();
    expect(parseLine('')).toBeUndefined();
    expect(parseLine('null')).toBeUndefined();
    expect(parseLine('{"id":1,"d":"kitchen","ts":5}')).toBeUndefined();
  });
});
