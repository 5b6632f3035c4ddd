import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../simulator/index.js';
import { ByteSink } from '../../src/query/byte-sink.js';

describe('ByteSink', () => {
  it('keeps every piece in order, whatever its length and kind (numbers written as String() does), across chunks and takes', () => {
    const random = SeededRandom.from('byte-sink');
    const sink = new ByteSink();
    const expected: Buffer[] = [];
    const taken: Buffer[] = [];
    for (let i = 0; i < 5_000; i++) {
      const length = random.next() < 0.01 ? Math.floor(random.next() * 200_000) : Math.floor(random.next() * 100);
      const ascii = 'x'.repeat(length).replace(/x/g, () => String.fromCharCode(32 + Math.floor(random.next() * 95)));
      const kind = Math.floor(random.next() * 5);
      // A timestamp, a decimal or any double: written straight into the chunk, as String() writes it.
      const number = [1_764_370_000_000 + i, Math.round(random.next() * 1e5) / 100, random.next() * 1e9][i % 3] ?? 0;
      if (kind === 0) sink.ascii(ascii);
      else if (kind === 1) sink.text(`${ascii}ü€`);
      else if (kind === 2) sink.bytes(Buffer.from(ascii, 'latin1'));
      else if (kind === 3) sink.byte(0x2c);
      else sink.number(number);
      expected.push(
        kind === 3
          ? Buffer.from([0x2c])
          : kind === 4
            ? Buffer.from(String(number), 'latin1')
            : Buffer.from(kind === 1 ? `${ascii}ü€` : ascii, kind === 1 ? 'utf8' : 'latin1'),
      );
      // Taken bytes stay as they were while the sink writes on.
      if (random.next() < 0.05) taken.push(...sink.take());
    }
    taken.push(...sink.take());
    expect(Buffer.concat(taken).equals(Buffer.concat(expected))).toBe(true);
    expect(sink.take()).toEqual([]);
  });
});
