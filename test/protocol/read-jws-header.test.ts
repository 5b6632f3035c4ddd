import { describe, expect, it } from 'vitest';
import { CONNECTION_TOKEN_TYP, MESSAGE_TYP, TelemetryError } from '../../src/index.js';
import { readJwsHeader } from '../../src/protocol/read-jws-header.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const compact = (header: unknown) => `${b64(header)}.${b64({ v: 1 })}.c2ln`;

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof TelemetryError) return error.code;
    throw error;
  }
  return undefined;
}

describe('readJwsHeader and its cache of headers already read', () => {
  const good = { alg: 'ES256', typ: MESSAGE_TYP, kid: 'fleet.cache-1' };

  it('gives back the same frozen header for a header it has read before', () => {
    const first = readJwsHeader(compact(good), MESSAGE_TYP);
    const second = readJwsHeader(`${b64(good)}.${b64({ other: true })}.b3RoZXI`, MESSAGE_TYP);
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first).toEqual(good);
  });

  it('checks the typ again when the same header is read for another kind of token', () => {
    readJwsHeader(compact(good), MESSAGE_TYP);
    expect(codeOf(() => readJwsHeader(compact(good), CONNECTION_TOKEN_TYP))).toBe('ERR_HEADER_INVALID');
  });

  it('refuses a bad header every time, not only the first', () => {
    const bad = compact({ alg: 'HS256', typ: MESSAGE_TYP, kid: 'fleet.cache-2' });
    const codes = [1, 2, 3].map(() => codeOf(() => readJwsHeader(bad, MESSAGE_TYP)));
    expect(codes).toEqual(['ERR_ALG_NOT_ALLOWED', 'ERR_ALG_NOT_ALLOWED', 'ERR_ALG_NOT_ALLOWED']);
  });

  it('still reads every header right after many distinct ones pushed the oldest out', () => {
    for (let i = 0; i < 9_000; i++) readJwsHeader(compact({ ...good, kid: `fleet.flood-${i}` }), MESSAGE_TYP);
    expect(readJwsHeader(compact(good), MESSAGE_TYP)).toEqual(good);
    expect(codeOf(() => readJwsHeader(compact({ ...good, crit: ['exp'] }), MESSAGE_TYP))).toBe('ERR_HEADER_INVALID');
  });
});

describe('readJwsHeader on the shape of a compact JWS', () => {
  const header = b64({ alg: 'ES256', typ: MESSAGE_TYP, kid: 'fleet.shape-1' });
  // The pattern the check replaced: three base64url parts, the last one possibly empty.
  const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

  it.each([
    ['no dot', 'abc'],
    ['one dot', `${header}.abc`],
    ['four parts', `${header}.abc.def.ghi`],
    ['an empty payload', `${header}..c2ln`],
    ['an empty header', `.${b64({ v: 1 })}.c2ln`],
    ['padding', `${header}.${Buffer.from('{"v":1}').toString('base64')}.c2ln`],
    ['standard base64 characters', `${header}.ab+/cd.c2ln`],
    ['a space', `${header}.ab cd.c2ln`],
    ['a signature with padding', `${header}.${b64({ v: 1 })}.c2ln==`],
    ['a length no base64 has', `${header}.abcde.c2ln`],
  ])('refuses %s as ERR_MESSAGE_MALFORMED', (_name, text) => {
    expect(codeOf(() => readJwsHeader(text, MESSAGE_TYP))).toBe('ERR_MESSAGE_MALFORMED');
  });

  it('refuses a payload part exactly when the base64url pattern does or its length is 4k+1, for any character anywhere', () => {
    const payload = b64({ v: 1, device: 'shape', seq: 1, readings: [{ ts: 1, values: { t: 20.5 } }] });
    const characters = Array.from({ length: 256 }, (_, c) => String.fromCharCode(c));
    characters.push('€', '😀', '\ud800');
    for (let at = 0; at <= payload.length; at += 7) {
      for (const character of characters) {
        for (const inserted of [character, character + character, `${character}A`]) {
          const part = `${payload.slice(0, at)}${inserted}${payload.slice(at)}`;
          const text = `${header}.${part}.c2ln`;
          // No sequence of bytes encodes to 4k+1 characters (RFC 4648 §5), so those are refused too.
          const malformed = !COMPACT_JWS.test(text) || part.length % 4 === 1;
          const refused = codeOf(() => readJwsHeader(text, MESSAGE_TYP)) === 'ERR_MESSAGE_MALFORMED';
          if (refused !== malformed) expect(refused, JSON.stringify(text)).toBe(malformed);
        }
      }
    }
  });
});
