import { CompactSign } from 'jose';
import { describe, expect, it } from 'vitest';
import { MESSAGE_TYP, signMessage, signPayload, verifyMessage } from '../../src/index.js';
import { alice, b64, deps, NOW, reading, rejection, useDevices } from './verify-message-support.js';

useDevices();

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const header = { alg: 'ES256', typ: MESSAGE_TYP, kid: 'alice.k1' };
const payloadOf = (readings: unknown = [reading()]) => ({ v: 1, device: 'alice', seq: 1, readings });

/** The rejection code of a message given as bytes. */
async function bytesRejection(bytes: Buffer): Promise<string | undefined> {
  return verifyMessage(bytes, deps).then(
    () => undefined,
    (error: { code?: string }) => error.code,
  );
}

describe('verifyMessage: the text around and inside a message (PROTOCOL.md §2)', () => {
  it('ignores space, tab, CR and LF around the message, given as text or as bytes', async () => {
    const jws = await signMessage(alice.signer, 3, [reading()]);
    const framed = ` \t\r\n${jws}\r\n\t `;
    expect((await verifyMessage(framed, deps)).seq).toBe(3);
    expect((await verifyMessage(Buffer.from(framed), deps)).seq).toBe(3);
  });

  it.each([
    ['a no-break space byte (0xA0) before it', (m: Buffer) => Buffer.concat([Buffer.from([0xa0]), m])],
    ['a no-break space byte (0xA0) after it', (m: Buffer) => Buffer.concat([m, Buffer.from([0xa0])])],
    ['a UTF-8 byte order mark before it', (m: Buffer) => Buffer.concat([BOM, m])],
    ['a vertical tab before it', (m: Buffer) => Buffer.concat([Buffer.from([0x0b]), m])],
    ['a form feed after it', (m: Buffer) => Buffer.concat([m, Buffer.from([0x0c])])],
    ['a NUL byte after it', (m: Buffer) => Buffer.concat([m, Buffer.from([0x00])])],
  ])('refuses a message with %s as malformed', async (_name, frame) => {
    const jws = Buffer.from(await signMessage(alice.signer, 1, [reading()]));
    expect(await bytesRejection(frame(jws))).toBe('ERR_MESSAGE_MALFORMED');
  });

  it.each([
    ['U+FEFF', '\ufeff'],
    ['U+00A0', '\u00a0'],
    ['U+2003', '\u2003'],
  ])('refuses a message given as text with %s before it as malformed', async (_name, prefix) => {
    const jws = await signMessage(alice.signer, 1, [reading()]);
    expect(await rejection(`${prefix}${jws}`)).toBe('ERR_MESSAGE_MALFORMED');
  });

  it('refuses a byte order mark inside the protected header (RFC 8259 §8.1) as malformed', async () => {
    const h = Buffer.concat([BOM, Buffer.from(JSON.stringify(header))]).toString('base64url');
    expect(await rejection(`${h}.${b64(payloadOf())}.AAAA`)).toBe('ERR_MESSAGE_MALFORMED');
  });

  it('refuses a byte order mark inside the signed payload (RFC 8259 §8.1) as a malformed payload', async () => {
    const body = Buffer.concat([BOM, Buffer.from(JSON.stringify(payloadOf()))]);
    const jws = await new CompactSign(body).setProtectedHeader(header).sign(alice.signer.privateKey);
    expect(await rejection(jws)).toBe('ERR_PAYLOAD_MALFORMED');
  });

  it('takes a header nested 4 levels deep (unknown members are ignored) and refuses 5 as malformed', async () => {
    const four = await signPayload(alice.signer, payloadOf(), { ...header, x: { y: { z: [1] } } } as never);
    expect((await verifyMessage(four, deps)).device).toBe('alice');
    const five = await signPayload(alice.signer, payloadOf(), { ...header, x: { y: { z: [[1]] } } } as never);
    expect(await rejection(five)).toBe('ERR_MESSAGE_MALFORMED');
  });

  it('parses a payload 8 levels deep (then refuses it by the schema) and refuses 9 levels as malformed', async () => {
    // payload 1, readings 2, reading 3, values 4, then four arrays: 8; one more array: 9.
    const at = (arrays: number) =>
      `{"v":1,"device":"alice","seq":1,"readings":[{"ts":${NOW - 1000},"values":{"t":${'['.repeat(arrays)}1${']'.repeat(arrays)}}}]}`;
    expect(await rejection(await signPayload(alice.signer, at(4)))).toBe('ERR_PAYLOAD_INVALID');
    expect(await rejection(await signPayload(alice.signer, at(5)))).toBe('ERR_PAYLOAD_MALFORMED');
  });

  it.each([
    ['with a zero fraction', `${NOW - 1000}.0`],
    ['with an exponent', `${(NOW - 1000) / 1e9}e9`],
    ['with a fraction and an exponent', `${NOW - 1000}00.0e-2`],
  ])('takes an integer ts written %s', async (_name, ts) => {
    const jws = await signPayload(
      alice.signer,
      `{"v":1.0,"device":"alice","seq":1e0,"readings":[{"ts":${ts},"values":{"t":1}}]}`,
    );
    const message = await verifyMessage(jws, deps);
    expect(message.readings).toEqual([{ device: 'alice', ts: NOW - 1000, values: { t: 1 } }]);
  });

  it('refuses a ts that is not an integer', async () => {
    const jws = await signPayload(
      alice.signer,
      `{"v":1,"device":"alice","seq":1,"readings":[{"ts":${NOW - 1000}.5,"values":{"t":1}}]}`,
    );
    expect(await rejection(jws)).toBe('ERR_PAYLOAD_INVALID');
  });
});
