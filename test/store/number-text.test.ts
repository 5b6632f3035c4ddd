import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../simulator/index.js';
import {
  floatText,
  integerText,
  NUMBER_TEXT_MAX_BYTES,
  numberText,
  writeNumberText,
} from '../../src/store/number-text.js';

/** A seeded stream (the simulator's generator), so a failing case can be replayed. */
function random(seed: number): () => number {
  const stream = SeededRandom.from(String(seed));
  return () => stream.next();
}

describe('floatText', () => {
  it.each([
    0,
    -0,
    1,
    -1,
    21,
    21.5,
    -3.25,
    0.1,
    0.5,
    -0.5,
    1013.25,
    0.0001,
    0.00001,
    0.1 + 0.2,
    1 / 3,
    2 ** 31 - 1,
    2 ** 31,
    -(2 ** 31),
    214748.3647,
    214748.3648,
    1e21,
    1e-7,
    123456789.125,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    NaN,
    Number.POSITIVE_INFINITY,
  ])('writes %d exactly as String() does', (value) => {
    expect(floatText(value)).toBe(String(value));
  });

  it('writes 300,000 random numbers exactly as String() does, so each parses back to the same double', () => {
    const next = random(20261129);
    for (let i = 0; i < 300_000; i++) {
      const digits = Math.floor(next() * 7);
      const sign = next() < 0.3 ? -1 : 1;
      const value =
        i % 3 === 0
          ? (sign * Math.round(next() * 10 ** Math.floor(next() * 10))) / 10 ** digits // a decimal, as sensors send
          : i % 3 === 1
            ? sign * next() * 10 ** Math.floor(next() * 14 - 4) // any double
            : sign * (Math.floor(next() * 2 ** 31) + 0.5 ** Math.floor(next() * 5)); // near the 2^31 bound
      const text = floatText(value);
      if (text !== String(value)) expect(text, `value ${value}`).toBe(String(value));
      if (Number(text) !== value) expect(Number(text)).toBe(value);
    }
  });
});

describe('integerText', () => {
  it.each([
    0,
    -1,
    9_999_999,
    10_000_000,
    10_000_001,
    19_999_999,
    2 ** 31,
    1_764_370_000_000,
    1_764_370_000_001,
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    2 ** 53,
    1e21,
  ])('writes %d exactly as String() does', (value) => {
    expect(integerText(value)).toBe(String(value));
  });

  it('writes 300,000 random safe integers exactly as String() does', () => {
    const next = random(7);
    for (let i = 0; i < 300_000; i++) {
      const value =
        i % 2 === 0
          ? 1_700_000_000_000 + Math.floor(next() * 100_000_000_000) // millisecond timestamps
          : Math.floor(next() * 2 ** Math.floor(next() * 54));
      const text = integerText(value);
      if (text !== String(value)) expect(text, `value ${value}`).toBe(String(value));
    }
  });
});

describe('numberText', () => {
  it.each([
    0,
    -0,
    -1,
    21.5,
    1_764_370_000_123,
    -1_764_370_000_123,
    2 ** 53,
    20.841470984807895,
    1e21,
    1e-7,
    -Number.MAX_VALUE,
    NaN,
    Number.NEGATIVE_INFINITY,
  ])('writes %d exactly as String() does', (value) => {
    expect(numberText(value)).toBe(String(value));
  });

  it('writes 300,000 random timestamps, decimals and doubles exactly as String() does', () => {
    const next = random(20261205);
    for (let i = 0; i < 300_000; i++) {
      const value =
        i % 3 === 0
          ? 1_700_000_000_000 + Math.floor(next() * 100_000_000_000)
          : i % 3 === 1
            ? Math.round(next() * 1e6) / 100
            : (next() - 0.5) * 10 ** Math.floor(next() * 30 - 10);
      const text = numberText(value);
      if (text !== String(value)) expect(text, `value ${value}`).toBe(String(value));
    }
  });
});

describe('writeNumberText', () => {
  /** The text written at an offset inside a buffer, checking that nothing around it was touched. */
  function written(value: number): string {
    const buffer = Buffer.alloc(3 + NUMBER_TEXT_MAX_BYTES + 3, 0xff);
    const end = writeNumberText(buffer, 3, value);
    expect(end - 3).toBeLessThanOrEqual(NUMBER_TEXT_MAX_BYTES);
    expect([...buffer.subarray(0, 3), ...buffer.subarray(end)].every((byte) => byte === 0xff)).toBe(true);
    return buffer.toString('latin1', 3, end);
  }

  it.each([
    0,
    -0,
    7,
    -1,
    10,
    21.5,
    -3.25,
    0.0001,
    -0.0001,
    1013.25,
    0.30000000000000004,
    2 ** 31 - 1,
    2 ** 31,
    -(2 ** 31),
    214748.3647,
    9_999_999,
    10_000_000,
    1_764_370_000_000,
    -1_764_370_000_123,
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    2 ** 53,
    1e21,
    1e-7,
    -2.2250738585072014e-308,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    NaN,
    Number.NEGATIVE_INFINITY,
  ])('writes %d as the bytes of String()', (value) => {
    expect(written(value)).toBe(String(value));
  });

  it('writes 300,000 random timestamps, decimals, integers and doubles as the bytes of String()', () => {
    const next = random(20261206);
    const buffer = Buffer.alloc(NUMBER_TEXT_MAX_BYTES);
    for (let i = 0; i < 300_000; i++) {
      const sign = next() < 0.3 ? -1 : 1;
      const value =
        i % 4 === 0
          ? 1_700_000_000_000 + Math.floor(next() * 100_000_000_000)
          : i % 4 === 1
            ? (sign * Math.round(next() * 10 ** Math.floor(next() * 10))) / 10 ** Math.floor(next() * 7)
            : i % 4 === 2
              ? sign * Math.floor(next() * 2 ** Math.floor(next() * 54))
              : sign * (next() - 0.5) * 10 ** Math.floor(next() * 30 - 10);
      const text = buffer.toString('latin1', 0, writeNumberText(buffer, 0, value));
      if (text !== String(value)) expect(text, `value ${value}`).toBe(String(value));
    }
  });
});
