import { createECDH, createHash, createHmac, createPrivateKey, createPublicKey } from 'node:crypto';
import type { JWK } from 'jose';
import type { DeviceAlgorithm } from '../../src/index.js';

/** A key pair derived from a seed: the private JWK (with `d`) and its public half. */
export interface DerivedKey {
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

/** The order n of the P-256 group (SEC 2 §2.4.2). */
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
/** DER prefix of a PKCS #8 Ed25519 private key holding a 32-byte seed (RFC 8410 §7). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const b64url = (bytes: Buffer) => bytes.toString('base64url');

/** 32 secret bytes for `label` from `seed`: HMAC-SHA256(seed, label). */
function secretBytes(seed: string, label: string): Buffer {
  return createHmac('sha256', seed).update(label).digest();
}

/** A P-256 private scalar from 32 bytes: the value mod n, rehashed in the (negligible) case it is zero. */
function p256Scalar(bytes: Buffer): Buffer {
  let value = BigInt(`0x${bytes.toString('hex')}`) % P256_ORDER;
  let input = bytes;
  while (value === 0n) {
    input = createHash('sha256').update(input).digest();
    value = BigInt(`0x${input.toString('hex')}`) % P256_ORDER;
  }
  return Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
}

function deriveEs256(bytes: Buffer): { priv: JWK; pub: JWK } {
  const d = p256Scalar(bytes);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey(); // 0x04 || x || y (SEC 1 §2.3.3)
  const pub: JWK = { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33, 65)) };
  return { priv: { ...pub, d: b64url(d) }, pub };
}

function deriveEd25519(bytes: Buffer): { priv: JWK; pub: JWK } {
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, bytes]),
    format: 'der',
    type: 'pkcs8',
  });
  const { x } = createPublicKey(privateKey).export({ format: 'jwk' });
  const pub: JWK = { kty: 'OKP', crv: 'Ed25519', x };
  return { priv: { ...pub, d: b64url(bytes) }, pub };
}

/** A key id that names its owner and changes with the key: `<prefix>.<8 hex of SHA-256 of the public key>`. */
function derivedKeyId(prefix: string, publicJwk: JWK): string {
  const digest = createHash('sha256')
    .update(`${publicJwk.x ?? ''}.${publicJwk.y ?? ''}`)
    .digest('hex');
  return `${prefix}.${digest.slice(0, 8)}`;
}

/**
 * Derives a key pair from `seed` and `label` (a device id, or `issuer`): the same
 * inputs always give the same key. Ed25519: the private key is
 * HMAC-SHA256(seed, label); P-256: d is that value mod n.
 *
 * @example
 * const key = deriveKey('fleet-seed', 'sim-thermo-00042', 'ES256', 'sim-thermo-00042');
 */
export function deriveKey(seed: string, label: string, alg: DeviceAlgorithm, sub?: string): DerivedKey {
  const bytes = secretBytes(seed, label);
  const { priv, pub } = alg === 'EdDSA' ? deriveEd25519(bytes) : deriveEs256(bytes);
  const kid = derivedKeyId(sub ?? label, pub);
  const extra = { kid, alg, use: 'sig', ...(sub === undefined ? {} : { sub }) };
  return { privateJwk: { ...priv, ...extra }, publicJwk: { ...pub, ...extra } };
}
