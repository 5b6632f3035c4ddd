import { describe, expect, it } from 'vitest';
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
