import type { CryptoKey } from 'jose';
import { importJWK, type JWK } from 'jose';
import { type DeviceAlgorithm, isDeviceAlgorithm } from './device-algorithm.js';
import { isDeviceId, isKeyId } from './names.js';

/** What a device needs to sign: its id, its private key, and how nodes will find the public half. */
export interface DeviceSigner {
  readonly device: string;
  readonly alg: DeviceAlgorithm;
  readonly privateKey: CryptoKey;
  /** The key's id in the registry (registry mode). */
  readonly kid?: string;
  /** A device credential from the fleet issuer (credential mode); sent in the `dcr` header. */
  readonly credential?: string;
}

/**
 * Builds a signer from a private device JWK as `telemetry keys generate` writes it
 * (members `kid`, `alg`, `sub` = device id, and the private key).
 */
export async function deviceSignerFromJwk(jwk: JWK, credential?: string): Promise<DeviceSigner> {
  const { kid, alg, sub } = jwk as JWK & { sub?: unknown };
  if (!isDeviceId(sub)) throw new TypeError('the device key file has no valid "sub" (device id)');
  if (!isDeviceAlgorithm(alg)) throw new TypeError('the device key file has no "alg" of ES256 or EdDSA');
  if (typeof jwk.d !== 'string') throw new TypeError('the device key file holds no private key (member "d")');
  const privateKey = (await importJWK(jwk, alg)) as CryptoKey;
  const signer: DeviceSigner = { device: sub, alg, privateKey };
  return {
    ...signer,
    ...(isKeyId(kid) && credential === undefined ? { kid } : {}),
    ...(credential === undefined ? {} : { credential }),
  };
}
