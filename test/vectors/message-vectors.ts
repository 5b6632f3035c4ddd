/**
 * The message vectors (test/vectors/messages.json), one function per group of cases, each adding its
 * cases in the order they appear in the file; the payload groups are in payload-vectors.ts.
 */
import { createHmac } from 'node:crypto';
import { deviceSignerFromJwk, MESSAGE_TYP, signPayload } from '../../src/index.js';
import { limitCases, numberCases, payloadCases } from './payload-vectors.js';
import {
  type AddCase,
  b64,
  fail,
  manual,
  NOW,
  ONE,
  ok,
  payload,
  r,
  SETTINGS,
  type VectorFleet,
} from './vector-fixtures.js';

/** Messages every node accepts, with the readings it stores. */
async function validMessages(f: VectorFleet, add: AddCase): Promise<void> {
  const { es, ed, credSigner } = f;
  await add(
    'valid ES256 message, registry key',
    signPayload(es.signer, payload(es.signer, 1, ONE)),
    ok(es.signer, 1, ONE as never),
  );
  const edReadings = [r(60_000, { battery_v: 3.71 }), r(0, { battery_v: 3.7, 'rssi.dbm': -71 })];
  await add(
    'valid EdDSA message with two readings',
    signPayload(ed.signer, payload(ed.signer, 2, edReadings)),
    ok(ed.signer, 2, edReadings as never),
  );
  await add(
    'valid message with a device credential (no registry entry needed)',
    signPayload(credSigner, payload(credSigner, 3, ONE)),
    ok(credSigner, 3, ONE as never, 'credential'),
  );
  await add(
    'valid message whose device matches the MQTT topic',
    signPayload(es.signer, payload(es.signer, 4, ONE)),
    ok(es.signer, 4, ONE as never),
    { expectedDevice: es.id },
  );
  const edge = [r(SETTINGS.maxReadingAgeMs, { a: -0.5 }), r(-SETTINGS.maxFutureSkewMs, { a: 1e300 })];
  await add(
    'valid readings at the exact edges of the time window',
    signPayload(es.signer, payload(es.signer, 5, edge)),
    ok(es.signer, 5, edge as never),
  );
}

/** Messages too large or not a well-formed JWS. */
async function malformedMessages(f: VectorFleet, add: AddCase): Promise<void> {
  const { es, other } = f;
  await add(
    'too large',
    signPayload(es.signer, payload(es.signer, 1, [r(0, { ['x'.repeat(40)]: 1 })], { pad: 'p'.repeat(4000) })),
    fail('ERR_MESSAGE_TOO_LARGE'),
  );
  await add('not compact serialization', 'eyJhbGciOiJFUzI1NiJ9.e30', fail('ERR_MESSAGE_MALFORMED'));
  await add(
    'header duplicate member names',
    `${Buffer.from(`{"alg":"ES256","typ":"${MESSAGE_TYP}","kid":"${es.signer.kid}","kid":"${other.signer.kid}"}`).toString('base64url')}.${b64(payload(es.signer, 1, ONE))}.AAAA`,
    fail('ERR_MESSAGE_MALFORMED'),
  );
}

/** Algorithms a node must refuse: none, HMAC, and one that does not match the key. */
async function algorithmCases(f: VectorFleet, add: AddCase): Promise<void> {
  const { es, ed } = f;
  await add(
    'alg none',
    `${b64({ alg: 'none', typ: MESSAGE_TYP, kid: es.signer.kid })}.${b64(payload(es.signer, 1, ONE))}.`,
    fail('ERR_ALG_NOT_ALLOWED'),
  );
  const h = b64({ alg: 'HS256', typ: MESSAGE_TYP, kid: es.signer.kid });
  const p = b64(payload(es.signer, 1, ONE));
  await add(
    'HS256 with the public key as secret',
    `${h}.${p}.${createHmac('sha256', JSON.stringify(es.publicJwk)).update(`${h}.${p}`).digest('base64url')}`,
    fail('ERR_ALG_NOT_ALLOWED'),
  );
  await add(
    'EdDSA header with an ES256 kid',
    signPayload(ed.signer, payload(es.signer, 1, ONE), {
      alg: 'EdDSA',
      typ: MESSAGE_TYP,
      kid: es.signer.kid as string,
    }),
    fail('ERR_ALG_NOT_ALLOWED'),
  );
}

/** Protected headers a node must refuse, and a kid it does not know. */
async function headerCases(f: VectorFleet, add: AddCase): Promise<void> {
  const { es } = f;
  await add(
    'missing typ',
    signPayload(es.signer, payload(es.signer, 1, ONE), { alg: 'ES256', kid: es.signer.kid as string }),
    fail('ERR_HEADER_INVALID'),
  );
  await add(
    'kid with path characters',
    signPayload(es.signer, payload(es.signer, 1, ONE), { alg: 'ES256', typ: MESSAGE_TYP, kid: '../../etc/passwd' }),
    fail('ERR_HEADER_INVALID'),
  );
  await add(
    'crit header',
    manual(
      es.signer,
      { alg: 'ES256', typ: MESSAGE_TYP, kid: es.signer.kid, crit: ['b64'], b64: true },
      JSON.stringify(payload(es.signer, 1, ONE)),
    ),
    fail('ERR_HEADER_INVALID'),
  );
  await add(
    'embedded jwk header',
    signPayload(es.signer, payload(es.signer, 1, ONE), {
      alg: 'ES256',
      typ: MESSAGE_TYP,
      kid: es.signer.kid as string,
      jwk: es.publicJwk,
    }),
    fail('ERR_HEADER_INVALID'),
  );
  await add(
    'unknown kid',
    signPayload(es.signer, payload(es.signer, 1, ONE), { alg: 'ES256', typ: MESSAGE_TYP, kid: 'sensor-unknown.k1' }),
    fail('ERR_UNKNOWN_KEY'),
  );
}

/** Signatures, credentials and devices that do not check out. Returns the untampered message, which the token vectors use too. */
async function signatureCases(f: VectorFleet, add: AddCase): Promise<string> {
  const { es, other, cred, rogue, credSigner, credential } = f;
  const good = await signPayload(es.signer, payload(es.signer, 1, ONE));
  const [gh, , gs] = good.split('.');
  await add(
    'tampered payload',
    `${gh}.${b64(payload(es.signer, 1, [r(1000, { temperature: 99, humidity: 40.25 })]))}.${gs}`,
    fail('ERR_SIGNATURE_INVALID'),
  );
  await add(
    "another device's key under this device's kid",
    signPayload(other.signer, payload(es.signer, 1, ONE), {
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
      payload(credSigner, 1, ONE),
    ),
    fail('ERR_CREDENTIAL_INVALID'),
  );
  await add(
    'expired credential',
    signPayload(
      await deviceSignerFromJwk(cred.privateJwk, await credential(3600, NOW - 2 * 3_600_000)),
      payload(credSigner, 1, ONE),
    ),
    fail('ERR_CREDENTIAL_EXPIRED'),
  );
  await add(
    'credential not valid yet',
    signPayload(
      await deviceSignerFromJwk(cred.privateJwk, await credential(3600, NOW + 600_000)),
      payload(credSigner, 1, ONE),
    ),
    fail('ERR_CREDENTIAL_EXPIRED'),
  );
  await add(
    'valid signature by another registered device, payload names this device',
    signPayload(other.signer, payload(es.signer, 1, ONE)),
    fail('ERR_DEVICE_MISMATCH'),
  );
  await add(
    'device differs from the MQTT topic',
    signPayload(es.signer, payload(es.signer, 1, ONE)),
    fail('ERR_DEVICE_MISMATCH'),
    { expectedDevice: other.id },
  );
  return good;
}

/** What may surround a message (ASCII whitespace only) and the byte order marks RFC 8259 §8.1 rules out. */
async function textCases(f: VectorFleet, add: AddCase): Promise<void> {
  const { es } = f;
  const good = await signPayload(es.signer, payload(es.signer, 6, ONE));
  await add('valid message with space, tab, CR and LF around it', ` \t\r\n${good}\r\n`, ok(es.signer, 6, ONE as never));
  await add('no-break space (U+00A0) before the message', `\u00a0${good}`, fail('ERR_MESSAGE_MALFORMED'));
  await add('byte order mark (U+FEFF) before the message', `\ufeff${good}`, fail('ERR_MESSAGE_MALFORMED'));
  const [, gp, gs] = good.split('.');
  const bomHeader = Buffer.from(`\ufeff${JSON.stringify({ alg: 'ES256', typ: MESSAGE_TYP, kid: es.signer.kid })}`);
  await add(
    'byte order mark inside the header JSON',
    `${bomHeader.toString('base64url')}.${gp}.${gs}`,
    fail('ERR_MESSAGE_MALFORMED'),
  );
  await add(
    'byte order mark inside the payload JSON',
    signPayload(es.signer, `\ufeff${JSON.stringify(payload(es.signer, 1, ONE))}`),
    fail('ERR_PAYLOAD_MALFORMED'),
  );
}

/**
 * Adds every message case; returns a valid message of `es` (the token vectors check that a
 * message is not taken for a token).
 */
export async function messageVectors(f: VectorFleet, add: AddCase): Promise<string> {
  await validMessages(f, add);
  await malformedMessages(f, add);
  await algorithmCases(f, add);
  await headerCases(f, add);
  const good = await signatureCases(f, add);
  await payloadCases(f, add);
  await limitCases(f, add);
  await textCases(f, add);
  await numberCases(f, add);
  return good;
}
