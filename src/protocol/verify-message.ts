import { verify } from 'node:crypto';
import { TelemetryError } from '../errors.js';
import type { ProtocolLimits } from './limits.js';
import type { Reading, TelemetryPayload, VerifiedMessage } from './message.js';
import { parseStrictJson } from './parse-strict-json.js';
import { readCompactJws, utf8Text } from './read-jws-header.js';
import type { DeviceKeySource, TrustedKey } from './trusted-key.js';
import { validatePayload } from './validate-payload.js';
import { MESSAGE_TYP } from './wire-types.js';

export interface VerifyMessageDeps {
  readonly keys: DeviceKeySource;
  readonly limits: ProtocolLimits;
  /** The node's clock, ms since the epoch. */
  readonly now: () => number;
}

export interface VerifyContext {
  /** The device the transport already knows (MQTT topic and connection); the payload must name it. */
  readonly expectedDevice?: string;
}

const PAYLOAD_MAX_DEPTH = 8;

/**
 * Verifies one signed telemetry message and returns its readings, or throws a
 * TelemetryError whose code says why (see ERROR_POLICIES and docs/PROTOCOL.md).
 *
 * The steps, cheapest first: size, JWS shape and header, trusted key (the
 * algorithm comes from the key, never from the header alone), signature,
 * I-JSON payload, identity binding, schema and limits, timestamps.
 *
 * @example
 * const message = await verifyMessage(body, { keys, limits: DEFAULT_LIMITS, now: Date.now });
 * await store.write(message.readings);
 */
export async function verifyMessage(
  input: string | Uint8Array,
  deps: VerifyMessageDeps,
  context: VerifyContext = {},
): Promise<VerifiedMessage> {
  return checkMessage(await authenticateMessage(input, deps), deps, context);
}

/** A message whose signature verified with a trusted key; its payload is parsed I-JSON, not yet checked. */
export interface AuthenticatedMessage {
  readonly key: TrustedKey;
  readonly payload: unknown;
  /** The node's clock when the message was authenticated. */
  readonly now: number;
}

/**
 * The first half of {@link verifyMessage}: size, JWS shape and header, trusted
 * key, signature, and the payload parsed as I-JSON.
 */
export async function authenticateMessage(
  input: string | Uint8Array,
  deps: VerifyMessageDeps,
): Promise<AuthenticatedMessage> {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (size > deps.limits.maxMessageBytes) {
    throw new TelemetryError(
      'ERR_MESSAGE_TOO_LARGE',
      `the message is ${size} bytes; at most ${deps.limits.maxMessageBytes}`,
    );
  }
  // Bytes are read through a view (Buffer.from(input) would copy them) as latin1, one character per byte, so
  // offsets in the text are offsets in the bytes and the signing input can be a view into them too.
  let bytes: Buffer | undefined;
  let received: string;
  if (typeof input === 'string') {
    received = input;
  } else {
    bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    received = bytes.toString('latin1');
  }
  // Only ASCII whitespace around the compact JWS is ignored (a trailing newline, say); String#trim would also
  // drop a no-break space (byte 0xA0 read as latin1), U+FEFF and other Unicode spaces, which §2 does not allow.
  // The loops run over that whitespace only, never over the message.
  let start = 0;
  let end = received.length;
  while (start < end && isAsciiSpace(received.charCodeAt(start))) start++;
  while (end > start && isAsciiSpace(received.charCodeAt(end - 1))) end--;
  const compact = start === 0 && end === received.length ? received : received.slice(start, end);
  const { header, payload: payloadBytes, lastDot } = readCompactJws(compact, MESSAGE_TYP);
  const now = deps.now();
  const key = await deps.keys.resolve(header, now);
  if (header.alg !== key.alg) {
    throw new TelemetryError('ERR_ALG_NOT_ALLOWED', `the device key is registered for ${key.alg}`);
  }
  const signingInput =
    bytes === undefined ? Buffer.from(compact.slice(0, lastDot), 'latin1') : bytes.subarray(start, start + lastDot);
  verifySignature(signingInput, compact.slice(lastDot + 1), key);

  const text = utf8Text(payloadBytes, 'ERR_PAYLOAD_MALFORMED');
  return { key, payload: parseStrictJson(text, { maxDepth: PAYLOAD_MAX_DEPTH }), now };
}

/** Space, tab, line feed or carriage return: the whitespace RFC 8259 §2 allows, and all that may surround a message. */
function isAsciiSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * The second half of {@link verifyMessage}: identity binding, schema, limits
 * and timestamps of an authenticated payload, into readings.
 */
export function checkMessage(
  message: AuthenticatedMessage,
  deps: Pick<VerifyMessageDeps, 'limits'>,
  context: VerifyContext = {},
): VerifiedMessage {
  const { key } = message;
  const payload = checkPayload(message.payload, key, deps, message.now, context);
  const readings: Reading[] = payload.readings.map((r) => ({ device: payload.device, ts: r.ts, values: r.values }));
  return { device: payload.device, seq: payload.seq, kid: key.kid, alg: key.alg, keySource: key.source, readings };
}

/**
 * The `seq` an authenticated payload carries, when it is a well-formed one: it
 * tells the device which message failed, even when the payload fails its checks.
 */
export function authenticatedSeq(message: AuthenticatedMessage): number | undefined {
  const seq = (message.payload as { seq?: unknown } | null)?.seq;
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? seq : undefined;
}

/** Identity binding, then schema, limits and timestamps. */
function checkPayload(
  parsed: unknown,
  key: TrustedKey,
  deps: Pick<VerifyMessageDeps, 'limits'>,
  now: number,
  context: VerifyContext,
): TelemetryPayload {
  const named = (parsed as { device?: unknown } | null)?.device;
  if (typeof named === 'string' && named !== key.device) {
    throw new TelemetryError('ERR_DEVICE_MISMATCH', "the payload names a device other than the signing key's");
  }
  const payload = validatePayload(parsed, { limits: deps.limits, now });
  if (context.expectedDevice !== undefined && payload.device !== context.expectedDevice) {
    throw new TelemetryError('ERR_DEVICE_MISMATCH', 'the payload names a device other than the connection or topic');
  }
  return payload;
}

/**
 * RFC 7515 §5.2 step 8 with the trusted key: the signature over the ASCII
 * signing input, ES256 as R||S (RFC 7518 §3.4), EdDSA as RFC 8037. This is a
 * direct node:crypto call rather than jose's compactVerify because the header
 * was already checked more strictly above, and jose's WebCrypto path cost twice
 * the signature check itself (bench/verify-cost.ts).
 */
function verifySignature(input: Buffer, encodedSignature: string, key: TrustedKey): void {
  const signature = Buffer.from(encodedSignature, 'base64url');
  let valid = false;
  try {
    valid =
      key.alg === 'ES256'
        ? signature.length === 64 &&
          verify('sha256', input, { key: key.verifier, dsaEncoding: 'ieee-p1363' }, signature)
        : verify(null, input, key.verifier, signature);
  } catch (cause) {
    throw new TelemetryError('ERR_SIGNATURE_INVALID', 'the signature does not verify with the device key', { cause });
  }
  if (!valid) throw new TelemetryError('ERR_SIGNATURE_INVALID', 'the signature does not verify with the device key');
}
