/**
 * Writes test/vectors/messages.json and test/vectors/connection-tokens.json:
 * signed inputs with the outcome every conforming node must reach. Run with
 * `npm run vectors` only when the protocol changes; the files are part of the
 * spec and are committed. ECDSA signatures are randomised, so a new run gives
 * new bytes with the same meaning.
 */
import { createHmac } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { type CompactJWSHeaderParameters, CompactSign, type JWK } from 'jose';
import {
  type DeviceAlgorithm,
  type DeviceSigner,
  deviceSignerFromJwk,
  generateKey,
  issueCredential,
  MESSAGE_TYP,
  signConnectionToken,
  signPayload,
} from '../../src/index.js';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const SETTINGS = {
  maxMessageBytes: 4096,
  maxReadingsPerMessage: 10,
  maxValuesPerReading: 8,
  maxReadingAgeMs: 7 * 86_400_000,
  maxFutureSkewMs: 60_000,
  clockSkewSeconds: 60,
  tokenAudience: 'telemetry-ingest',
  maxTokenLifetimeSeconds: 86_400,
};
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

interface Case {
  name: string;
  message: string;
  context?: { expectedDevice: string };
  expect:
    | { ok: true; device: string; seq: number; keySource: string; readings: unknown[] }
    | { ok: false; error: string };
}

async function device(id: string, alg: DeviceAlgorithm) {
  const key = await generateKey(alg, `${id}.k1`, id);
  return { id, ...key, signer: await deviceSignerFromJwk(key.privateJwk) };
}

async function main(): Promise<void> {
  const es = await device('sensor-es256', 'ES256');
  const ed = await device('sensor-eddsa', 'EdDSA');
  const other = await device('sensor-other', 'ES256');
  const cred = await device('sensor-credential', 'ES256');
  const issuer = await generateKey('ES256', 'fleet-issuer.k1');
  const rogue = await generateKey('ES256', 'rogue-issuer.k1');
  const credential = (lifetime: number, at: number, key: JWK = issuer.privateJwk) =>
    issueCredential({
      issuerKey: key,
      device: cred.id,
      deviceKey: cred.publicJwk,
      lifetimeSeconds: lifetime,
      now: at,
      issuer: 'example-fleet',
    });
  const credSigner = await deviceSignerFromJwk(cred.privateJwk, await credential(30 * 86_400, NOW - 86_400_000));

  const payload = (signer: DeviceSigner, seq: number, readings: unknown[], extra: object = {}) => ({
    v: 1,
    device: signer.device,
    seq,
    readings,
    ...extra,
  });
  const r = (dt: number, values: Record<string, unknown>) => ({ ts: NOW - dt, values });
  const ok = (
    signer: DeviceSigner,
    seq: number,
    readings: Array<{ ts: number; values: object }>,
    keySource = 'registry',
  ) => ({
    ok: true as const,
    device: signer.device,
    seq,
    keySource,
    readings: readings.map((x) => ({ device: signer.device, ...x })),
  });
  const fail = (error: string) => ({ ok: false as const, error });
  const manual = async (signer: DeviceSigner, header: object, body: string) => {
    // For headers jose will not produce (crit, b64): sign the exact bytes with jose's CompactSign over a neutral header,
    // then swap the header in and re-sign through node:crypto would be needed; instead use CompactSign with crit allowed.
    return new CompactSign(new TextEncoder().encode(body))
      .setProtectedHeader(header as CompactJWSHeaderParameters)
      .sign(signer.privateKey);
  };

  const cases: Case[] = [];
  const add = async (
    name: string,
    message: string | Promise<string>,
    expect: Case['expect'],
    context?: Case['context'],
  ) => cases.push({ name, message: await message, expect, ...(context === undefined ? {} : { context }) });

  const one = [r(1000, { temperature: 21.5, humidity: 40.25 })];
  await add(
    'valid ES256 message, registry key',
    signPayload(es.signer, payload(es.signer, 1, one)),
    ok(es.signer, 1, one as never),
  );
  const edReadings = [r(60_000, { battery_v: 3.71 }), r(0, { battery_v: 3.7, 'rssi.dbm': -71 })];
  await add(
    'valid EdDSA message with two readings',
    signPayload(ed.signer, payload(ed.signer, 2, edReadings)),
    ok(ed.signer, 2, edReadings as never),
  );
  await add(
    'valid message with a device credential (no registry entry needed)',
    signPayload(credSigner, payload(credSigner, 3, one)),
    ok(credSigner, 3, one as never, 'credential'),
  );
  await add(
    'valid message whose device matches the MQTT topic',
    signPayload(es.signer, payload(es.signer, 4, one)),
    ok(es.signer, 4, one as never),
    { expectedDevice: es.id },
  );
  const edge = [r(SETTINGS.maxReadingAgeMs, { a: -0.5 }), r(-SETTINGS.maxFutureSkewMs, { a: 1e300 })];
  await add(
    'valid readings at the exact edges of the time window',
    signPayload(es.signer, payload(es.signer, 5, edge)),
    ok(es.signer, 5, edge as never),
  );

  await add(
    'too large',
    signPayload(es.signer, payload(es.signer, 1, [r(0, { ['x'.repeat(40)]: 1 })], { pad: 'p'.repeat(4000) })),
    fail('ERR_MESSAGE_TOO_LARGE'),
  );
  await add('not compact serialization', 'eyJhbGciOiJFUzI1NiJ9.e30', fail('ERR_MESSAGE_MALFORMED'));
  await add(
    'header duplicate member names',
    `${Buffer.from(`{"alg":"ES256","typ":"${MESSAGE_TYP}","kid":"${es.signer.kid}","kid":"${other.signer.kid}"}`).toString('base64url')}.${b64(payload(es.signer, 1, one))}.AAAA`,
    fail('ERR_MESSAGE_MALFORMED'),
  );
  await add(
    'alg none',
    `${b64({ alg: 'none', typ: MESSAGE_TYP, kid: es.signer.kid })}.${b64(payload(es.signer, 1, one))}.`,
    fail('ERR_ALG_NOT_ALLOWED'),
  );
  const h = b64({ alg: 'HS256', typ: MESSAGE_TYP, kid: es.signer.kid });
  const p = b64(payload(es.signer, 1, one));
  await add(
    'HS256 with the public key as secret',
    `${h}.${p}.${createHmac('sha256', JSON.stringify(es.publicJwk)).update(`${h}.${p}`).digest('base64url')}`,
    fail('ERR_ALG_NOT_ALLOWED'),
  );
  await add(
    'EdDSA header with an ES256 kid',
    signPayload(ed.signer, payload(es.signer, 1, one), {
      alg: 'EdDSA',
      typ: MESSAGE_TYP,
      kid: es.signer.kid as string,
    }),
    fail('ERR_ALG_NOT_ALLOWED'),
  );
  await add(
    'missing typ',
    signPayload(es.signer, payload(es.signer, 1, one), { alg: 'ES256', kid: es.signer.kid as string }),
    fail('ERR_HEADER_INVALID'),
  );
  await add(
    'kid with path characters',
    signPayload(es.signer, payload(es.signer, 1, one), { alg: 'ES256', typ: MESSAGE_TYP, kid: '../../etc/passwd' }),
    fail('ERR_HEADER_INVALID'),
  );
  await add(
    'crit header',
    manual(
      es.signer,
      { alg: 'ES256', typ: MESSAGE_TYP, kid: es.signer.kid, crit: ['b64'], b64: true },
      JSON.stringify(payload(es.signer, 1, one)),
    ),
    fail('ERR_HEADER_INVALID'),
  );
  await add(
    'embedded jwk header',
    signPayload(es.signer, payload(es.signer, 1, one), {
      alg: 'ES256',
      typ: MESSAGE_TYP,
      kid: es.signer.kid as string,
      jwk: es.publicJwk,
    }),
    fail('ERR_HEADER_INVALID'),
  );
  await add(
    'unknown kid',
    signPayload(es.signer, payload(es.signer, 1, one), { alg: 'ES256', typ: MESSAGE_TYP, kid: 'sensor-unknown.k1' }),
    fail('ERR_UNKNOWN_KEY'),
  );
  const good = await signPayload(es.signer, payload(es.signer, 1, one));
  const [gh, , gs] = good.split('.');
  await add(
    'tampered payload',
    `${gh}.${b64(payload(es.signer, 1, [r(1000, { temperature: 99, humidity: 40.25 })]))}.${gs}`,
    fail('ERR_SIGNATURE_INVALID'),
  );
  await add(
    "another device's key under this device's kid",
    signPayload(other.signer, payload(es.signer, 1, one), {
      alg: 'ES256',
      typ: MESSAGE_TYP,
      kid: es.signer.kid as string,
    }),
    fail('ERR_SIGNATURE_INVALID'),
  );
  await add(
    'credential from an untrusted issuer',
    signPayload(
      await deviceSignerFromJwk(cred.privateJwk, await credential(3600, NOW, rogue.privateJwk)),
      payload(credSigner, 1, one),
    ),
    fail('ERR_CREDENTIAL_INVALID'),
  );
  await add(
    'expired credential',
    signPayload(
      await deviceSignerFromJwk(cred.privateJwk, await credential(3600, NOW - 2 * 3_600_000)),
      payload(credSigner, 1, one),
    ),
    fail('ERR_CREDENTIAL_EXPIRED'),
  );
  await add(
    'credential not valid yet',
    signPayload(
      await deviceSignerFromJwk(cred.privateJwk, await credential(3600, NOW + 600_000)),
      payload(credSigner, 1, one),
    ),
    fail('ERR_CREDENTIAL_EXPIRED'),
  );
  await add(
    'valid signature by another registered device, payload names this device',
    signPayload(other.signer, payload(es.signer, 1, one)),
    fail('ERR_DEVICE_MISMATCH'),
  );
  await add(
    'device differs from the MQTT topic',
    signPayload(es.signer, payload(es.signer, 1, one)),
    fail('ERR_DEVICE_MISMATCH'),
    { expectedDevice: other.id },
  );
  await add(
    'payload duplicate member names',
    signPayload(es.signer, `{"v":1,"device":"${es.id}","device":"${other.id}","seq":1,"readings":[]}`),
    fail('ERR_PAYLOAD_MALFORMED'),
  );
  await add(
    'payload number out of range',
    signPayload(es.signer, `{"v":1,"device":"${es.id}","seq":1,"readings":[{"ts":${NOW},"values":{"t":1e400}}]}`),
    fail('ERR_PAYLOAD_MALFORMED'),
  );
  await add(
    'payload nested too deep',
    signPayload(es.signer, `${'['.repeat(64)}${']'.repeat(64)}`),
    fail('ERR_PAYLOAD_MALFORMED'),
  );
  await add('payload not JSON', signPayload(es.signer, 'temperature=21.5'), fail('ERR_PAYLOAD_MALFORMED'));
  await add(
    'unknown payload member',
    signPayload(es.signer, payload(es.signer, 1, one, { extra: 1 })),
    fail('ERR_PAYLOAD_INVALID'),
  );
  await add(
    'string value',
    signPayload(es.signer, payload(es.signer, 1, [r(0, { state: 'open' })])),
    fail('ERR_PAYLOAD_INVALID'),
  );
  await add(
    'same metric twice at one timestamp',
    signPayload(es.signer, payload(es.signer, 1, [r(0, { t: 1 }), r(0, { t: 2 })])),
    fail('ERR_PAYLOAD_INVALID'),
  );
  await add(
    'metric name with a comma',
    signPayload(es.signer, payload(es.signer, 1, [r(0, { 'temp,room=1': 1 })])),
    fail('ERR_NAME_INVALID'),
  );
  await add(
    'metric name with a space',
    signPayload(es.signer, payload(es.signer, 1, [r(0, { 'temp c': 1 })])),
    fail('ERR_NAME_INVALID'),
  );
  await add(
    'metric name with a newline',
    signPayload(es.signer, payload(es.signer, 1, [r(0, { 'a\nb': 1 })])),
    fail('ERR_NAME_INVALID'),
  );
  await add(
    'too many readings',
    signPayload(
      es.signer,
      payload(
        es.signer,
        1,
        Array.from({ length: 11 }, (_, i) => r(i, { t: i })),
      ),
    ),
    fail('ERR_TOO_MANY_READINGS'),
  );
  await add(
    'too many values',
    signPayload(
      es.signer,
      payload(es.signer, 1, [r(0, Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`m${i}`, i])))]),
    ),
    fail('ERR_TOO_MANY_VALUES'),
  );
  await add(
    'reading older than the maximum age',
    signPayload(es.signer, payload(es.signer, 1, [r(SETTINGS.maxReadingAgeMs + 1, { t: 1 })])),
    fail('ERR_TIMESTAMP_OUT_OF_RANGE'),
  );
  await add(
    'reading too far in the future',
    signPayload(es.signer, payload(es.signer, 1, [r(-SETTINGS.maxFutureSkewMs - 1, { t: 1 })])),
    fail('ERR_TIMESTAMP_OUT_OF_RANGE'),
  );
  await add(
    'timestamp in seconds',
    signPayload(es.signer, payload(es.signer, 1, [{ ts: Math.floor(NOW / 1000), values: { t: 1 } }])),
    fail('ERR_TIMESTAMP_UNIT'),
  );
  await add(
    'timestamp in microseconds',
    signPayload(es.signer, payload(es.signer, 1, [{ ts: NOW * 1000, values: { t: 1 } }])),
    fail('ERR_TIMESTAMP_UNIT'),
  );

  const keys = {
    description:
      'Replayed by test/vectors/vectors.test.ts. Verify each message at time `now` with `settings`, trusting `registry` (device keys) and `issuers` (fleet issuer keys for device credentials), and reach `expect`. `deviceKeys` are the private keys that signed them, for implementers checking their own signer.',
    protocol: 1,
    now: NOW,
    settings: SETTINGS,
    registry: { keys: [es.publicJwk, ed.publicJwk, other.publicJwk] },
    issuers: { keys: [issuer.publicJwk] },
    deviceKeys: Object.fromEntries([es, ed, other, cred].map((d) => [d.id, d.privateJwk])),
  };
  await writeFile(new URL('./messages.json', import.meta.url), `${JSON.stringify({ ...keys, cases }, null, 2)}\n`);

  const tokens: Array<{
    name: string;
    token: string;
    expect: { ok: true; device: string; expiresAt: number } | { ok: false; error: string };
  }> = [];
  const addToken = async (name: string, token: string | Promise<string>, expect: (typeof tokens)[number]['expect']) =>
    tokens.push({ name, token: await token, expect });
  await addToken(
    'valid token, registry key',
    signConnectionToken(es.signer, { now: NOW - 60_000, lifetimeSeconds: 3600 }),
    { ok: true, device: es.id, expiresAt: NOW - 60_000 + 3_600_000 },
  );
  await addToken(
    'valid token, device credential',
    signConnectionToken(credSigner, { now: NOW, lifetimeSeconds: 600 }),
    { ok: true, device: cred.id, expiresAt: NOW + 600_000 },
  );
  await addToken('expired token', signConnectionToken(ed.signer, { now: NOW - 7_200_000, lifetimeSeconds: 3600 }), {
    ok: false,
    error: 'ERR_TOKEN_EXPIRED',
  });
  await addToken(
    'token living longer than allowed',
    signConnectionToken(ed.signer, { now: NOW, lifetimeSeconds: 7 * 86_400 }),
    { ok: false, error: 'ERR_TOKEN_EXPIRED' },
  );
  await addToken(
    'token for another audience',
    signConnectionToken(es.signer, { now: NOW, lifetimeSeconds: 600, audience: 'someone-else' }),
    { ok: false, error: 'ERR_TOKEN_INVALID' },
  );
  await addToken('a telemetry message instead of a token', good, { ok: false, error: 'ERR_TOKEN_INVALID' });
  await addToken(
    'token signed by another device under this kid',
    signConnectionToken({ ...other.signer, kid: es.signer.kid as string }, { now: NOW, lifetimeSeconds: 600 }),
    { ok: false, error: 'ERR_SIGNATURE_INVALID' },
  );
  await writeFile(
    new URL('./connection-tokens.json', import.meta.url),
    `${JSON.stringify({ ...keys, cases: tokens }, null, 2)}\n`,
  );
  process.stdout.write(`wrote ${cases.length} message vectors and ${tokens.length} token vectors\n`);
}

await main();
