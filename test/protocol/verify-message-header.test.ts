import { createHmac, createPrivateKey, createSign, type JsonWebKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, MESSAGE_TYP, signPayload } from '../../src/index.js';
import { alice, b64, edna, reading, rejection, useDevices } from './verify-message-support.js';

useDevices();

describe('verifyMessage', () => {
  it('rejects an unsecured JWS with alg "none"', async () => {
    const jws = `${b64({ alg: 'none', typ: MESSAGE_TYP, kid: 'alice.k1' })}.${b64({ v: 1, device: 'alice', seq: 1, readings: [reading()] })}.`;
    expect(await rejection(jws)).toBe('ERR_ALG_NOT_ALLOWED');
  });

  it('rejects HS256 signed with the public key as the HMAC secret (algorithm confusion)', async () => {
    const header = b64({ alg: 'HS256', typ: MESSAGE_TYP, kid: 'alice.k1' });
    const payload = b64({ v: 1, device: 'alice', seq: 1, readings: [reading()] });
    const secret = JSON.stringify(alice.publicJwk);
    const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
    expect(await rejection(`${header}.${payload}.${mac}`)).toBe('ERR_ALG_NOT_ALLOWED');
  });

  it('rejects an EdDSA header on a message whose kid names an ES256 device key', async () => {
    const jws = await signPayload(
      edna.signer,
      { v: 1, device: 'alice', seq: 1, readings: [reading()] },
      {
        alg: 'EdDSA',
        typ: MESSAGE_TYP,
        kid: 'alice.k1',
      },
    );
    expect(await rejection(jws)).toBe('ERR_ALG_NOT_ALLOWED');
  });

  it.each(['../../etc/passwd', 'alice/k1', 'alice.k1\u0000', 'x'.repeat(129)])(
    'rejects kid %j with path or control characters before any lookup',
    async (kid) => {
      const jws = await signPayload(
        alice.signer,
        { v: 1, device: 'alice', seq: 1, readings: [reading()] },
        {
          alg: 'ES256',
          typ: MESSAGE_TYP,
          kid,
        },
      );
      expect(await rejection(jws)).toBe('ERR_HEADER_INVALID');
    },
  );

  it.each([
    ['a crit header', { crit: ['exp'], exp: 1 }],
    ['an unencoded payload (b64)', { b64: false, crit: ['b64'] }],
    ['an embedded jwk', { jwk: { kty: 'EC' } }],
    ['a jku URL', { jku: 'https://evil.example/keys' }],
    ['another typ', { typ: 'JWT' }],
  ])('rejects %s in the header', async (_name, extra) => {
    const header = { alg: 'ES256', typ: MESSAGE_TYP, kid: 'alice.k1', ...extra };
    const h = b64(header);
    const p = b64({ v: 1, device: 'alice', seq: 1, readings: [reading()] });
    // jose refuses to produce these headers, so sign by hand with node:crypto.
    const key = createPrivateKey({ key: alice.privateJwk as JsonWebKey, format: 'jwk' });
    const signature = createSign('sha256')
      .update(`${h}.${p}`)
      .sign({ key, dsaEncoding: 'ieee-p1363' })
      .toString('base64url');
    expect(await rejection(`${h}.${p}.${signature}`)).toBe('ERR_HEADER_INVALID');
  });

  it('rejects duplicate member names in the header', async () => {
    const h = Buffer.from(`{"alg":"ES256","typ":"${MESSAGE_TYP}","kid":"alice.k1","kid":"bob.k1"}`).toString(
      'base64url',
    );
    expect(await rejection(`${h}.e30.AAAA`)).toBe('ERR_MESSAGE_MALFORMED');
  });

  it.each([
    ['not three parts', 'abc.def'],
    ['characters outside base64url', 'a+b.c/d.e=f'],
    ['a header that is not JSON', `${b64('hello')}.e30.AAAA`],
    ['a header that is a JSON array', `${b64([1])}.e30.AAAA`],
  ])('rejects %s as malformed', async (_name, input) => {
    expect(await rejection(input)).toBe('ERR_MESSAGE_MALFORMED');
  });

  it('rejects a message over the size limit before parsing it', async () => {
    const big = 'A'.repeat(DEFAULT_LIMITS.maxMessageBytes + 1);
    expect(await rejection(big)).toBe('ERR_MESSAGE_TOO_LARGE');
  });
});
