import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { DeviceAlgorithm } from '../protocol/device-algorithm.js';
import { publicJwk } from '../protocol/device-algorithm.js';

/** A fresh key pair as JWKs; the private one carries every member, the public one only what verifiers need. */
export interface GeneratedKey {
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

/** A random key id: `<prefix>.<8 hex>` so a rotated key is told apart from its predecessor. */
export function newKeyId(prefix: string): string {
  return `${prefix}.${randomBytes(4).toString('hex')}`;
}

/**
 * Generates an ES256 (P-256) or EdDSA (Ed25519) key pair. `sub` names the
 * device (omit it for issuer keys).
 */
export async function generateKey(alg: DeviceAlgorithm, kid: string, sub?: string): Promise<GeneratedKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    crv: alg === 'EdDSA' ? 'Ed25519' : undefined,
  });
  const extra = { kid, alg, use: 'sig', ...(sub === undefined ? {} : { sub }) };
  return {
    privateJwk: { ...(await exportJWK(privateKey)), ...extra },
    publicJwk: { ...publicJwk(await exportJWK(publicKey)), ...extra },
  };
}
