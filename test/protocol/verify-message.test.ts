import { createHmac, createPrivateKey, createSign, type JsonWebKey } from 'node:crypto';
import { CompactSign } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { CredentialKeySource } from '../../src/identity/credential-key-source.js';
import {
  DEFAULT_LIMITS,
  DeviceKeys,
  type ErrorCode,
  MESSAGE_TYP,
  signMessage,
  signPayload,
  TelemetryError,
  type VerifyMessageDeps,
  verifyMessage,
} from '../../src/index.js';
import { makeDevice, makeIssuer, registryOf, type TestDevice } from '../support/devices.js';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

let alice: TestDevice;
let bob: TestDevice;
let edna: TestDevice;
let deps: VerifyMessageDeps;

async function rejection(input: string, context = {}, using = deps): Promise<ErrorCode> {
  const error = await verifyMessage(input, using, context).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof TelemetryError)) throw new Error(`expected a TelemetryError, got ${String(error)}`);
  return error.code;
}

const reading = (values: Record<string, number> = { temperature: 21.5 }, ts = NOW - 1000) => ({ ts, values });

beforeAll(async () => {
  alice = await makeDevice('alice', 'ES256');
  bob = await makeDevice('bob', 'ES256');
  edna = await makeDevice('edna', 'EdDSA');
  deps = {
    keys: new DeviceKeys({ registry: () => registryOf(alice, bob, edna) }),
    limits: DEFAULT_LIMITS,
    now: () => NOW,
  };
});

describe('verifyMessage', () => {
  it('accepts an ES256 message from a registered device and returns its readings', async () => {
    const jws = await signMessage(alice.signer, 7, [reading({ temperature: 21.5, humidity: 40 })]);
    const message = await verifyMessage(jws, deps);
    expect(message).toEqual({
      device: 'alice',
      seq: 7,
      kid: 'alice.k1',
      alg: 'ES256',
      keySource: 'registry',
      readings: [{ device: 'alice', ts: NOW - 1000, values: { temperature: 21.5, humidity: 40 } }],
    });
  });

  it('accepts an EdDSA message given as bytes', async () => {
    const jws = await signMessage(edna.signer, 0, [reading(), reading({ temperature: 22 }, NOW - 2000)]);
    const message = await verifyMessage(new TextEncoder().encode(jws), deps);
    expect(message.alg).toBe('EdDSA');
    expect(message.readings).toHaveLength(2);
  });

  it('verifies bytes with whitespace around them, inside a larger buffer, over exactly the signed bytes', async () => {
    const jws = await signMessage(alice.signer, 8, [reading()]);
    const frame = Buffer.from(`xx \r\n${jws}\n yy`);
    const message = await verifyMessage(frame.subarray(2, frame.length - 2), deps);
    expect(message.seq).toBe(8);
    // One payload byte changed fails the signature, so the signature covered the bytes inside the frame.
    const tampered = Buffer.from(frame);
    const at = tampered.indexOf('.') + 5;
    tampered[at] = tampered[at] === 0x41 ? 0x42 : 0x41;
    await expect(verifyMessage(tampered.subarray(2, tampered.length - 2), deps)).rejects.toMatchObject({
      code: 'ERR_SIGNATURE_INVALID',
    });
  });

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

  it("rejects a valid signature by another registered device's key", async () => {
    const jws = await signPayload(bob.signer, { v: 1, device: 'alice', seq: 1, readings: [reading()] });
    expect(await rejection(jws)).toBe('ERR_DEVICE_MISMATCH');
  });

  it("rejects bob's key presented under alice's kid", async () => {
    const jws = await signPayload(
      bob.signer,
      { v: 1, device: 'alice', seq: 1, readings: [reading()] },
      {
        alg: 'ES256',
        typ: MESSAGE_TYP,
        kid: 'alice.k1',
      },
    );
    expect(await rejection(jws)).toBe('ERR_SIGNATURE_INVALID');
  });

  it('rejects a tampered payload', async () => {
    const jws = await signMessage(alice.signer, 1, [reading({ temperature: 21.5 })]);
    const [h, , s] = jws.split('.');
    const forged = b64({ v: 1, device: 'alice', seq: 1, readings: [reading({ temperature: 99 })] });
    expect(await rejection(`${h}.${forged}.${s}`)).toBe('ERR_SIGNATURE_INVALID');
  });

  it('rejects a truncated signature', async () => {
    const jws = await signMessage(alice.signer, 1, [reading()]);
    expect(await rejection(jws.slice(0, -10))).toBe('ERR_SIGNATURE_INVALID');
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

  it('rejects an unknown kid', async () => {
    const jws = await signPayload(
      alice.signer,
      { v: 1, device: 'alice', seq: 1, readings: [reading()] },
      {
        alg: 'ES256',
        typ: MESSAGE_TYP,
        kid: 'mallory.k1',
      },
    );
    expect(await rejection(jws)).toBe('ERR_UNKNOWN_KEY');
  });

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

  it.each([
    ['duplicate member names', `{"v":1,"device":"alice","device":"bob","seq":1,"readings":[]}`],
    [
      'a number beyond double range',
      `{"v":1,"device":"alice","seq":1,"readings":[{"ts":${NOW},"values":{"t":1e999}}]}`,
    ],
    ['deep nesting', `${'['.repeat(5000)}${']'.repeat(5000)}`],
    ['trailing garbage', `{"v":1} x`],
    ['invalid UTF-8', '\u00ff'],
    ['a lone surrogate', `{"v":1,"device":"\\ud800","seq":1,"readings":[]}`],
  ])('rejects a signed payload with %s as malformed', async (_name, text) => {
    const bytes = text === '\u00ff' ? Buffer.from([0xff, 0xfe]).toString('latin1') : text;
    const jws =
      text === '\u00ff'
        ? await new CompactSign(Buffer.from([0xff, 0xfe]))
            .setProtectedHeader({ alg: 'ES256', typ: MESSAGE_TYP, kid: 'alice.k1' })
            .sign(alice.signer.privateKey)
        : await signPayload(alice.signer, bytes);
    expect(await rejection(jws)).toBe('ERR_PAYLOAD_MALFORMED');
  });

  it('keeps __proto__ as a plain member, so it is reported as unknown instead of changing the prototype', async () => {
    const jws = await signPayload(alice.signer, `{"v":1,"device":"alice","seq":1,"readings":[],"__proto__":{"x":1}}`);
    expect(await rejection(jws)).toBe('ERR_PAYLOAD_INVALID');
  });

  it.each<[string, unknown, ErrorCode]>([
    ['an unknown member', { v: 1, device: 'alice', seq: 1, readings: [reading()], extra: true }, 'ERR_PAYLOAD_INVALID'],
    ['another protocol version', { v: 2, device: 'alice', seq: 1, readings: [reading()] }, 'ERR_PAYLOAD_INVALID'],
    ['a negative seq', { v: 1, device: 'alice', seq: -1, readings: [reading()] }, 'ERR_PAYLOAD_INVALID'],
    ['no readings', { v: 1, device: 'alice', seq: 1, readings: [] }, 'ERR_PAYLOAD_INVALID'],
    [
      'a string value',
      { v: 1, device: 'alice', seq: 1, readings: [{ ts: NOW, values: { t: '21' } }] },
      'ERR_PAYLOAD_INVALID',
    ],
    [
      'a boolean value',
      { v: 1, device: 'alice', seq: 1, readings: [{ ts: NOW, values: { t: true } }] },
      'ERR_PAYLOAD_INVALID',
    ],
    [
      'an empty values object',
      { v: 1, device: 'alice', seq: 1, readings: [{ ts: NOW, values: {} }] },
      'ERR_PAYLOAD_INVALID',
    ],
    [
      'the same metric twice at one timestamp',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ t: 1 }, NOW), reading({ t: 2 }, NOW)] },
      'ERR_PAYLOAD_INVALID',
    ],
    [
      'a metric name with a comma',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ 'a,b': 1 })] },
      'ERR_NAME_INVALID',
    ],
    [
      'a metric name with a space',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ 'a b': 1 })] },
      'ERR_NAME_INVALID',
    ],
    ['a metric name with =', { v: 1, device: 'alice', seq: 1, readings: [reading({ 'a=b': 1 })] }, 'ERR_NAME_INVALID'],
    [
      'a metric name with a quote',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ 'a"b': 1 })] },
      'ERR_NAME_INVALID',
    ],
    [
      'a metric name with a backslash',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ 'a\\b': 1 })] },
      'ERR_NAME_INVALID',
    ],
    [
      'a metric name with a slash',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ 'a/b': 1 })] },
      'ERR_NAME_INVALID',
    ],
    ['an empty metric name', { v: 1, device: 'alice', seq: 1, readings: [reading({ '': 1 })] }, 'ERR_NAME_INVALID'],
    [
      'a metric name with a newline',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ 'a\nb': 1 })] },
      'ERR_NAME_INVALID',
    ],
    [
      'a non-ASCII metric name',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ température: 1 })] },
      'ERR_NAME_INVALID',
    ],
    [
      'a 65-character metric name',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ ['m'.repeat(65)]: 1 })] },
      'ERR_NAME_INVALID',
    ],
    [
      'a timestamp in seconds',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ t: 1 }, Math.floor(NOW / 1000))] },
      'ERR_TIMESTAMP_UNIT',
    ],
    [
      'a fractional timestamp in seconds',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ t: 1 }, NOW / 1000 + 0.5)] },
      'ERR_TIMESTAMP_UNIT',
    ],
    [
      'a timestamp in microseconds',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ t: 1 }, NOW * 1000)] },
      'ERR_TIMESTAMP_UNIT',
    ],
    [
      'a timestamp in nanoseconds',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ t: 1 }, NOW * 1e6)] },
      'ERR_TIMESTAMP_UNIT',
    ],
    [
      'a reading older than the maximum age',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ t: 1 }, NOW - 8 * 86_400_000)] },
      'ERR_TIMESTAMP_OUT_OF_RANGE',
    ],
    [
      'a reading two minutes in the future',
      { v: 1, device: 'alice', seq: 1, readings: [reading({ t: 1 }, NOW + 120_000)] },
      'ERR_TIMESTAMP_OUT_OF_RANGE',
    ],
  ])('rejects a payload with %s', async (_name, payload, code) => {
    expect(await rejection(await signPayload(alice.signer, payload))).toBe(code);
  });

  it('enforces the readings-per-message and values-per-reading limits with their own codes', async () => {
    const limits = { ...DEFAULT_LIMITS, maxReadingsPerMessage: 3, maxValuesPerReading: 2 };
    const tight = { ...deps, limits };
    const many = Array.from({ length: 4 }, (_, i) => reading({ t: i }, NOW - i));
    expect(await rejection(await signMessage(alice.signer, 1, many), {}, tight)).toBe('ERR_TOO_MANY_READINGS');
    expect(await rejection(await signMessage(alice.signer, 1, [reading({ a: 1, b: 2, c: 3 })]), {}, tight)).toBe(
      'ERR_TOO_MANY_VALUES',
    );
  });

  it('rejects a message whose payload names another device than the transport expects', async () => {
    const jws = await signMessage(alice.signer, 1, [reading()]);
    expect(await rejection(jws, { expectedDevice: 'bob' })).toBe('ERR_DEVICE_MISMATCH');
    await expect(verifyMessage(jws, deps, { expectedDevice: 'alice' })).resolves.toMatchObject({ device: 'alice' });
  });

  it('stops accepting a key once a refreshed registry no longer lists it', async () => {
    let registry = registryOf(alice, bob);
    const live = { ...deps, keys: new DeviceKeys({ registry: () => registry }) };
    const jws = await signMessage(alice.signer, 1, [reading()]);
    await expect(verifyMessage(jws, live)).resolves.toMatchObject({ device: 'alice' });
    registry = registryOf(bob);
    expect(await rejection(jws, {}, live)).toBe('ERR_UNKNOWN_KEY');
  });
});

describe('verifyMessage with device credentials', () => {
  it('accepts a message carrying a credential from a trusted issuer, with no registry at all', async () => {
    const issuer = await makeIssuer('EdDSA');
    const keys = new DeviceKeys({
      credentials: new CredentialKeySource({ issuers: () => issuer.issuers, clockSkewSeconds: 30 }),
    });
    const signer = await issuer.credentialed(alice, NOW);
    const message = await verifyMessage(await signMessage(signer, 3, [reading()]), { ...deps, keys });
    expect(message).toMatchObject({ device: 'alice', seq: 3, keySource: 'credential' });
  });

  it('rejects an expired credential and one not valid yet, allowing the configured skew', async () => {
    const issuer = await makeIssuer();
    const keys = new DeviceKeys({
      credentials: new CredentialKeySource({ issuers: () => issuer.issuers, clockSkewSeconds: 30 }),
    });
    const expired = await issuer.credentialed(alice, NOW - 7200_000, 3600);
    const future = await issuer.credentialed(alice, NOW + 600_000, 3600);
    const justExpired = await issuer.credentialed(alice, NOW - 3620_000, 3600);
    const payload = (ts: number) => ({ v: 1, device: 'alice', seq: 1, readings: [reading({ t: 1 }, ts)] });
    expect(await rejection(await signPayload(expired, payload(NOW)), {}, { ...deps, keys })).toBe(
      'ERR_CREDENTIAL_EXPIRED',
    );
    expect(await rejection(await signPayload(future, payload(NOW)), {}, { ...deps, keys })).toBe(
      'ERR_CREDENTIAL_EXPIRED',
    );
    await expect(verifyMessage(await signPayload(justExpired, payload(NOW)), { ...deps, keys })).resolves.toBeDefined();
  });

  it('rejects a credential from an untrusted issuer, and one naming another device', async () => {
    const trusted = await makeIssuer('ES256', 'fleet.a');
    const rogue = await makeIssuer('ES256', 'fleet.b');
    const keys = new DeviceKeys({
      credentials: new CredentialKeySource({ issuers: () => trusted.issuers, clockSkewSeconds: 0 }),
    });
    const rogueSigner = await rogue.credentialed(alice, NOW);
    expect(await rejection(await signMessage(rogueSigner, 1, [reading()]), {}, { ...deps, keys })).toBe(
      'ERR_CREDENTIAL_INVALID',
    );
    // bob holds a genuine credential for himself and claims to be alice.
    const bobSigner = await trusted.credentialed(bob, NOW);
    const claim = await signPayload(bobSigner, { v: 1, device: 'alice', seq: 1, readings: [reading()] });
    expect(await rejection(claim, {}, { ...deps, keys })).toBe('ERR_DEVICE_MISMATCH');
  });

  it('rejects a credential on a node that trusts no issuer', async () => {
    const issuer = await makeIssuer();
    const signer = await issuer.credentialed(alice, NOW);
    expect(await rejection(await signMessage(signer, 1, [reading()]))).toBe('ERR_CREDENTIAL_INVALID');
  });
});
