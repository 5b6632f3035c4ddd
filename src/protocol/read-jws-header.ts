import { isAscii } from 'node:buffer';
import type { JWSHeaderParameters } from 'jose';
import { TelemetryError } from '../errors.js';
import { isDeviceAlgorithm } from './device-algorithm.js';
import { parseStrictJson } from './parse-strict-json.js';

// RFC 7515 §7.1: base64url without padding. The signature may be empty so that an unsecured JWS
// (alg "none", RFC 7515 §A.5) is reported as ERR_ALG_NOT_ALLOWED.
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Header members that would point the verifier at a key chosen by the sender (RFC 7515 §4.1.2-§4.1.6). */
const SENDER_KEY_MEMBERS = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256'] as const;

// ignoreBOM: a byte order mark is kept as U+FEFF, so the JSON parser refuses it (RFC 8259 §8.1: no BOM), rather
// than the decoder dropping it silently.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Protected headers already read, by `typ` and encoded header: a device sends the same header
 * with every message, so decoding, parsing and checking it once is enough. Only headers that
 * passed every check are kept, frozen; a bounded FIFO, so a flood of distinct headers costs only time.
 */
const HEADER_CACHE_SIZE = 8_192;
/**
 * Registry-mode headers fit (a 128-character kid makes about 240), credential headers (with `dcr`)
 * do not and are not kept. With this bound the cache holds at most a few MB, however it is filled.
 */
const HEADER_CACHE_MAX_CHARS = 256;
const headerCaches = new Map<string, Map<string, JWSHeaderParameters>>();

/** UTF-8 bytes as text, or throws the given code. */
export function utf8Text(bytes: Buffer, code: 'ERR_MESSAGE_MALFORMED' | 'ERR_PAYLOAD_MALFORMED'): string {
  try {
    // ASCII is UTF-8 read byte for byte; the (fatal) UTF-8 decoder is needed only for other bytes.
    return isAscii(bytes) ? bytes.toString('latin1') : utf8.decode(bytes);
  } catch (cause) {
    throw new TelemetryError(code, 'not valid UTF-8', { cause });
  }
}

/**
 * `compact[from, to)` decoded, when it is base64url without padding, else undefined. Checked without a scan
 * in JavaScript, as the payload part is most of a message: node's decoder takes `+` and `/` too, which are
 * looked for, and skips any other character outside the alphabet (or stops at one), which leaves fewer bytes
 * than the length promises; a length of 4k+1 is never valid. A test compares this with the pattern.
 */
function decodeBase64urlPart(compact: string, from: number, to: number): Buffer | undefined {
  const length = to - from;
  if (length === 0 || length % 4 === 1) return undefined;
  const part = compact.slice(from, to);
  if (part.includes('+') || part.includes('/')) return undefined;
  const bytes = Buffer.from(part, 'base64url');
  return bytes.length === Math.floor((length * 3) / 4) ? bytes : undefined;
}

/** A compact JWS read by {@link readCompactJws}: its checked protected header and its decoded payload. */
export interface CompactJwsParts {
  readonly header: JWSHeaderParameters;
  readonly payload: Buffer;
  /** Offset of the dot before the signature in the compact serialization. */
  readonly lastDot: number;
}

function malformed(): TelemetryError {
  return new TelemetryError('ERR_MESSAGE_MALFORMED', 'not a JWS in compact serialization (three base64url parts)');
}

/**
 * Checks the shape of a compact JWS and returns its protected header, parsed
 * as I-JSON. Rejects what this protocol never accepts, before any key lookup:
 * algorithms other than ES256 and EdDSA (so `none` and HMAC never reach a
 * verifier), any `crit` or `b64` (RFC 7515 §4.1.11, RFC 7797), keys named by
 * the sender, and a `typ` other than `expectedTyp` (RFC 8725 §3.11).
 */
export function readJwsHeader(compact: string, expectedTyp: string): JWSHeaderParameters {
  return readCompactJws(compact, expectedTyp).header;
}

/** {@link readJwsHeader}, also handing back the payload part decoded (it was decoded to check it). */
export function readCompactJws(compact: string, expectedTyp: string): CompactJwsParts {
  const firstDot = compact.indexOf('.');
  const lastDot = compact.lastIndexOf('.');
  if (firstDot <= 0 || compact.indexOf('.', firstDot + 1) !== lastDot || !BASE64URL.test(compact.slice(lastDot + 1))) {
    throw malformed();
  }
  const payload = decodeBase64urlPart(compact, firstDot + 1, lastDot);
  if (payload === undefined) throw malformed();
  const encoded = compact.slice(0, firstDot);
  return { header: headerOf(encoded, expectedTyp), payload, lastDot };
}

/** The checked header of `encoded`, from the cache when it was read before. */
function headerOf(encoded: string, expectedTyp: string): JWSHeaderParameters {
  if (encoded.length > HEADER_CACHE_MAX_CHARS) return checkHeader(encoded, expectedTyp);
  let cache = headerCaches.get(expectedTyp);
  if (cache === undefined) {
    cache = new Map();
    headerCaches.set(expectedTyp, cache);
  }
  const cached = cache.get(encoded);
  if (cached !== undefined) return cached;
  const header = checkHeader(encoded, expectedTyp);
  if (cache.size >= HEADER_CACHE_SIZE) {
    const oldest = cache.keys().next();
    if (oldest.done !== true) cache.delete(oldest.value);
  }
  // `encoded` may be a slice that keeps the whole message alive; the key is copied so it holds only the header.
  cache.set(Buffer.from(encoded, 'latin1').toString('latin1'), header);
  return header;
}

/** Decodes, parses and checks one encoded protected header; the result is frozen, as it may be shared. */
function checkHeader(encoded: string, expectedTyp: string): JWSHeaderParameters {
  if (!BASE64URL.test(encoded)) throw malformed();
  const text = utf8Text(Buffer.from(encoded, 'base64url'), 'ERR_MESSAGE_MALFORMED');
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
  return Object.freeze(h);
}
