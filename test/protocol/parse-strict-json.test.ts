import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../../simulator/index.js';
import { parseStrictJson, TelemetryError } from '../../src/index.js';

const parse = (text: string, maxDepth = 8) => parseStrictJson(text, { maxDepth });

function failure(text: string, maxDepth = 8): string {
  try {
    parse(text, maxDepth);
  } catch (error) {
    if (error instanceof TelemetryError && error.code === 'ERR_PAYLOAD_MALFORMED') return error.message;
    throw error;
  }
  throw new Error(`parsed ${text}`);
}

describe('parseStrictJson', () => {
  it.each([
    '{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
    ' [ -0.5e-3 , 1E+2 , 0 , "\\u00e9\\n\\"" ] ',
    '"plain"',
    '{"emoji":"\\ud83d\\ude00","raw":"😀"}',
    '{}',
    '[]',
  ])('reads %s exactly as JSON.parse does', (text) => {
    expect(parse(text)).toEqual(JSON.parse(text));
  });

  it.each([
    ['duplicate member names', '{"a":1,"a":2}', /duplicate member name "a"/],
    ['duplicate names spelled with escapes', '{"a":1,"\\u0061":2}', /duplicate/],
    ['a number beyond double range', '[1e309]', /out of range/],
    ['a lone high surrogate', '["\\ud800"]', /lone surrogate/],
    ['a lone low surrogate, unescaped', '["\udc00"]', /lone surrogate/],
    ['nesting beyond the limit', '[[[[[[[[[1]]]]]]]]]', /deeper than 8/],
    ['a leading zero', '[01]', /expected/],
    ['a trailing comma', '[1,]', /unexpected character/],
    ['single quotes', "{'a':1}", /member name/],
    ['a raw control character in a string', '["a\u0001b"]', /control character/],
    ['a bad escape', '["\\x41"]', /invalid escape/],
    ['NaN', '[NaN]', /unexpected character/],
    ['a second value', '{} {}', /after the JSON value/],
    ['nothing', '', /end of input/],
    ['an unterminated string', '["abc', /unterminated/],
  ])('refuses %s', (_name, text, message) => {
    expect(failure(text)).toMatch(message);
  });

  it('keeps a member named __proto__ as an own property without touching the prototype', () => {
    const value = parse('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a deeply nested document without exhausting the stack', () => {
    expect(failure('['.repeat(100_000) + ']'.repeat(100_000))).toMatch(/deeper than 8/);
  });
});

/** A seeded stream (the simulator's generator), so a failing case can be replayed. */
function random(seed: number): () => number {
  const stream = SeededRandom.from(String(seed));
  return () => stream.next();
}

/** JSON-like text, mostly telemetry-shaped, with the cases the fast path must hand over: repeats, escapes, huge numbers. */
function jsonish(next: () => number, depth: number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const roll = next();
  if (depth > 9 || roll < 0.45) {
    return pick([
      () => String(Math.round((next() - 0.5) * 1e6) / 10 ** Math.floor(next() * 6)),
      () => pick(['1e309', '-1e400', '1E+2', '0.5e-3', '-0', '12345678901234567890', '0.1', '1'.repeat(320)]),
      () => pick(['"a"', '"b:c"', '"\\u00e9"', '"\\ud800"', '"😀"', '"\udc00"', '"x\\"y"', '""', '"\u2028"']),
      () => pick(['true', 'false', 'null']),
    ])();
  }
  const ws = () => pick(['', '', ' ', '\n', '\t ']);
  if (roll < 0.7) {
    const items = Array.from({ length: Math.floor(next() * 4) }, () => ws() + jsonish(next, depth + 1) + ws());
    return `[${items.join(',')}]`;
  }
  const names = ['ts', 'values', 'a', 'b', '__proto__', '', 'tem:p', '\\u0061', 'constructor'];
  const members = Array.from({ length: Math.floor(next() * 4) }, () => {
    return `${ws()}"${pick(names)}"${ws()}:${ws()}${jsonish(next, depth + 1)}`;
  });
  return `{${members.join(',')}}`;
}

/** Breaks a document now and then: a character dropped, doubled or swapped for a delimiter. */
function mutate(text: string, next: () => number): string {
  if (text.length === 0 || next() < 0.6) return text;
  const at = Math.floor(next() * text.length);
  const op = next();
  if (op < 0.33) return text.slice(0, at) + text.slice(at + 1);
  if (op < 0.66) return text.slice(0, at) + text.charAt(at) + text.slice(at);
  return text.slice(0, at) + '{}[],:"\\ '.charAt(Math.floor(next() * 10)) + text.slice(at + 1);
}

/** The outcome as text: the value with -0 and member order kept, or the refusal message. */
function outcome(text: string, fastPath: boolean): string {
  try {
    const value = parseStrictJson(text, { maxDepth: 8, fastPath });
    return `value ${JSON.stringify(value, (_key, v: unknown) => (Object.is(v, -0) ? '-0 (negative zero)' : v))}`;
  } catch (error) {
    if (error instanceof TelemetryError) return `${error.code} ${error.message}`;
    throw error;
  }
}

describe('parseStrictJson fast path', () => {
  it('reads 30,000 generated documents exactly as the hand parser does, value or refusal', () => {
    const next = random(20261129);
    let fast = 0;
    for (let i = 0; i < 30_000; i++) {
      const text = mutate(jsonish(next, 1), next);
      expect(outcome(text, true), text).toBe(outcome(text, false));
      if (outcome(text, false).startsWith('value')) fast++;
    }
    // The generator makes both kinds in numbers, so the comparison covers both.
    expect(fast).toBeGreaterThan(5_000);
    expect(fast).toBeLessThan(25_000);
  });

  it.each([
    ['a repeated name', '{"a":1,"a":2}'],
    ['a number beyond double range', '{"a":1e999}'],
    ['nesting beyond the limit', '[[[[[[[[[1]]]]]]]]]'],
  ])('hands %s to the hand parser, which refuses it', (_name, text) => {
    expect(() => parse(text)).toThrow(TelemetryError);
  });

  it('keeps a colon inside a string (the slower hand parser reads it)', () => {
    expect(parse('{"name":"a:b"}')).toEqual({ name: 'a:b' });
  });
});
