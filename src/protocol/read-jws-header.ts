import type { JWSHeaderParameters } from 'jose';
import { TelemetryError } from '../errors.js';
import { isDeviceAlgorithm } from '../keys/device-algorithm.js';
import { parseStrictJson } from './parse-strict-json.js';

// RFC 7515 §7.1: three base64url parts, no padding, separated by dots. The signature may be
// empty so that an unsecured JWS (alg "none", RFC 7515 §A.5) is reported as ERR_ALG_NOT_ALLOWED.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Header members that would point the verifier at a key chosen by the sender (RFC 7515 §4.1.2-§4.1.6). */
const SENDER_KEY_MEMBERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256'] as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes base64url into UTF-8 text, or throws the given code. */
export function decodeBase64urlText(part: string, code: 'ERR_MESSAGE_MALFORMED' | 'ERR_PAYLOAD_MALFORMED'): string {
  try {
    return utf8.decode(Buffer.from(part, 'base64url'));
  } catch (cause) {
    throw new TelemetryError(code, 'not valid UTF-8', { cause });
  }
}

/**
 * Checks the shape of a compact JWS and returns its protected header, parsed
 * as I-JSON. Rejects what this protocol never accepts, before any key lookup:
 * algorithms other than ES256 and EdDSA (so `none` and HMAC never reach a
 * verifier), any `crit` or `b64` (RFC 7515 §4.1.11, RFC 7797), keys named by
 * the sender, and a `typ` other than `expectedTyp` (RFC 8725 §3.11).
 */
export function readJwsHeader(compact: string, expectedTyp: string): JWSHeaderParameters {
  if (!COMPACT_JWS.test(compact)) {
    throw new TelemetryError('ERR_MESSAGE_MALFORMED', 'not a JWS in compact serialization (three base64url parts)');
  }
  const encoded = compact.slice(0, compact.indexOf('.'));
  const text = decodeBase64urlText(encoded, 'ERR_MESSAGE_MALFORMED');
  let header: unknown;
  try {
    header = parseStrictJson(text, { maxDepth: 4 });
  } catch (cause) {
    throw new TelemetryError('ERR_MESSAGE_MALFORMED', 'the protected header is not valid I-JSON', { cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new TelemetryError('ERR_MESSAGE_MALFORMED', 'the protected header is not a JSON object');
  }
  const h = header as JWSHeaderParameters;
  if (!isDeviceAlgorithm(h.alg)) {
    throw new TelemetryError('ERR_ALG_NOT_ALLOWED', 'alg must be ES256 or EdDSA');
  }
  if (typeof h.typ !== 'string' || h.typ.toLowerCase() !== expectedTyp) {
    throw new TelemetryError('ERR_HEADER_INVALID', `typ must be "${expectedTyp}"`);
  }
  if (h.crit !== undefined)
    throw new TelemetryError('ERR_HEADER_INVALID', 'crit is not supported: no extensions are understood');
  if (h.b64 !== undefined)
    throw new TelemetryError('ERR_HEADER_INVALID', 'b64 is not supported: payloads are base64url-encoded');
  for (const member of SENDER_KEY_MEMBERS) {
    if (Object.hasOwn(h, member)) {
      throw new TelemetryError(
        'ERR_HEADER_INVALID',
        `${member} is not accepted: keys come from the registry or a credential`,
      );
    }
  }
  return h;
}
