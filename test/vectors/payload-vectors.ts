/**
 * The payload vectors of test/vectors/messages.json: messages signed correctly whose payload a node
 * must refuse, one function per group, each adding its cases in the order they appear in the file.
 */
import { signPayload } from '../../src/index.js';
import { type AddCase, fail, NOW, ONE, ok, payload, r, SETTINGS, type VectorFleet } from './vector-fixtures.js';

/** Payloads that are not JSON a node reads, or not a valid message. */
export async function payloadCases(f: VectorFleet, add: AddCase): Promise<void> {
  const { es, other } = f;
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
    signPayload(es.signer, payload(es.signer, 1, ONE, { extra: 1 })),
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
}

/** Metric names, sizes and timestamps out of bounds. */
export async function limitCases(f: VectorFleet, add: AddCase): Promise<void> {
  const { es } = f;
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
}

/** Nesting at and beyond its limit, and integers written in other JSON number forms (PROTOCOL.md §2.2, §7). */
export async function numberCases(f: VectorFleet, add: AddCase): Promise<void> {
  const { es } = f;
  const ts = NOW - 1000;
  // payload 1, readings 2, reading 3, values 4, then `arrays` more levels.
  const nested = (arrays: number) =>
    `{"v":1,"device":"${es.id}","seq":1,"readings":[{"ts":${ts},"values":{"t":${'['.repeat(arrays)}1${']'.repeat(arrays)}}}]}`;
  await add(
    'payload nested 8 levels deep (parsed, then refused by the schema)',
    signPayload(es.signer, nested(4)),
    fail('ERR_PAYLOAD_INVALID'),
  );
  await add('payload nested 9 levels deep', signPayload(es.signer, nested(5)), fail('ERR_PAYLOAD_MALFORMED'));
  const readings = [{ ts, values: { t: 1 } }];
  await add(
    'valid message with integers written 1.0, 7e0 and 1795867199000.0',
    signPayload(es.signer, `{"v":1.0,"device":"${es.id}","seq":7e0,"readings":[{"ts":${ts}.0,"values":{"t":1}}]}`),
    ok(es.signer, 7, readings as never),
  );
  await add(
    'valid message with ts written with an exponent',
    signPayload(es.signer, `{"v":1,"device":"${es.id}","seq":8,"readings":[{"ts":${ts / 1e9}e9,"values":{"t":1}}]}`),
    ok(es.signer, 8, readings as never),
  );
  await add(
    'ts with a fraction',
    signPayload(es.signer, `{"v":1,"device":"${es.id}","seq":1,"readings":[{"ts":${ts}.5,"values":{"t":1}}]}`),
    fail('ERR_PAYLOAD_INVALID'),
  );
}
