import type { JWK } from 'jose';

/** Signature algorithms a device (or an issuer) may use: RFC 7518 §3.4 ES256 and RFC 8037 EdDSA with Ed25519. */
export const DEVICE_ALGORITHMS = ['ES256', 'EdDSA'] as const;
export type DeviceAlgorithm = (typeof DEVICE_ALGORITHMS)[number];

export function isDeviceAlgorithm(value: unknown): value is DeviceAlgorithm {
  return value === 'ES256' || value === 'EdDSA';
}

/** Why `jwk` cannot serve as a public verification key for `alg`, or undefined when it can. */
export function publicJwkProblem(jwk: JWK, alg: DeviceAlgorithm): string | undefined {
  if (jwk.d !== undefined) return 'holds private key material (member "d"); publish public keys only';
  if (alg === 'ES256') {
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') return 'alg ES256 needs kty "EC" and crv "P-256"';
    if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') return 'an EC key needs members "x" and "y"';
  } else {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519') return 'alg EdDSA needs kty "OKP" and crv "Ed25519"';
    if (typeof jwk.x !== 'string') return 'an OKP key needs member "x"';
  }
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'member "use" must be "sig" when present';
  return undefined;
}

/** The public half of a JWK: only the members a verifier needs. */
export function publicJwk(jwk: JWK): JWK {
  const { kty, crv, x, y } = jwk;
  return y === undefined ? { kty, crv, x } : { kty, crv, x, y };
}
