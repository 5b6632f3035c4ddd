import type { DeviceSigner } from '../protocol/device-signer.js';
import type { WireReading } from '../protocol/message.js';

/** The node limits a device sizes its messages by. */
export interface MessageLimits {
  readonly maxReadingsPerMessage: number;
  readonly maxMessageBytes: number;
}

/** base64url length of `n` bytes, without padding (RFC 7515 §2). */
const b64Length = (n: number) => Math.ceil((n * 4) / 3);
/** A 64-byte ES256 or EdDSA signature in base64url. */
const SIGNATURE_CHARS = 86;

/** The bytes of a message around its readings: header, payload members, separators, signature. */
export function messageOverhead(signer: DeviceSigner): number {
  const header = JSON.stringify({
    alg: signer.alg,
    typ: 'telemetry+jws',
    ...(signer.credential === undefined ? { kid: signer.kid } : { dcr: signer.credential }),
  });
  const payload = JSON.stringify({ v: 1, device: signer.device, seq: Number.MAX_SAFE_INTEGER, readings: [] });
  return b64Length(header.length) + 1 + b64Length(payload.length) + 1 + SIGNATURE_CHARS;
}

/**
 * How many of `readings`, from the first, fit in one message within the
 * limits (at least one; a single reading too large is the node's to refuse).
 */
export function readingsThatFit(readings: readonly WireReading[], overhead: number, limits: MessageLimits): number {
  // Payload bytes grow by 4/3 in base64url; keep a few bytes spare for rounding.
  let budget = Math.floor(((limits.maxMessageBytes - overhead - 8) * 3) / 4);
  const most = Math.min(readings.length, limits.maxReadingsPerMessage);
  for (let n = 0; n < most; n++) {
    const reading = readings[n];
    if (reading === undefined) return n;
    budget -= JSON.stringify(reading).length + 1;
    if (budget < 0) return Math.max(1, n);
  }
  return most;
}
