import { CompactSign } from 'jose';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type ErrorCode, MESSAGE_TYP, signMessage, signPayload } from '../../src/index.js';
import { alice, deps, NOW, reading, rejection, useDevices } from './verify-message-support.js';

useDevices();

describe('verifyMessage', () => {
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
});
