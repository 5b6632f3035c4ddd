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
