import { KeyObject } from 'node:crypto';
import type { CryptoKey } from 'jose';
import { errors, importJWK, type JWK, type JWTPayload, jwtVerify } from 'jose';
import { TelemetryError } from '../errors.js';
import { DEVICE_ALGORITHMS, isDeviceAlgorithm, publicJwk, publicJwkProblem } from '../protocol/device-algorithm.js';
import { isDeviceId } from '../protocol/names.js';
import type { TrustedKey } from '../protocol/trusted-key.js';
import { CREDENTIAL_TYP } from '../protocol/wire-types.js';
import type { JwksRegistry } from './jwks-registry.js';

export interface CredentialKeySourceOptions {
  /** The fleet issuers' public keys, as the current snapshot. */
  readonly issuers: () => JwksRegistry;
  /** Seconds of clock difference tolerated on exp and nbf. */
  readonly clockSkewSeconds: number;
  /** How many verified credentials to remember (a cache: losing it costs only time). */
  readonly cacheSize?: number;
}

interface CachedCredential {
  readonly key: TrustedKey;
  readonly notBefore: number;
  readonly issuers: JwksRegistry;
}

/**
 * Trusts device keys bound by a device credential: a JWT signed by a fleet
 * issuer whose `sub` is the device id and whose `cnf.jwk` (RFC 7800 §3.2) is
 * the device's public key, with `alg`. Nodes need only the issuers' keys, so a
 * fleet of any size needs no registry on the nodes.
 */
export class CredentialKeySource {
  readonly #options: CredentialKeySourceOptions;
  readonly #cache = new Map<string, CachedCredential>();
  readonly #cacheSize: number;

  constructor(options: CredentialKeySourceOptions) {
    this.#options = options;
    this.#cacheSize = options.cacheSize ?? 10_000;
  }

  /** The device key bound by `credential`, checked against the issuers and the clock. */
  async resolve(credential: unknown, now: number): Promise<TrustedKey> {
    if (typeof credential !== 'string' || credential.length === 0 || credential.length > 4096) {
      throw new TelemetryError(
        'ERR_CREDENTIAL_INVALID',
        'the credential must be a compact JWT string of at most 4096 characters',
      );
    }
    const issuers = this.#options.issuers();
    const skewMs = this.#options.clockSkewSeconds * 1000;
    const cached = this.#cache.get(credential);
    if (cached !== undefined && cached.issuers === issuers) {
      if (now > (cached.key.notAfter ?? 0) + skewMs || now < cached.notBefore - skewMs) {
        throw new TelemetryError('ERR_CREDENTIAL_EXPIRED', 'the device credential is expired or not yet valid');
      }
      return cached.key;
    }
    const { key, notBefore } = await this.#verify(credential, issuers, now);
    if (this.#cache.size >= this.#cacheSize) {
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    this.#cache.set(credential, { key, notBefore, issuers });
    return key;
  }

  async #verify(
    credential: string,
    issuers: JwksRegistry,
    now: number,
  ): Promise<{ key: TrustedKey; notBefore: number }> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(
        credential,
        async (header) => {
          if (typeof header.kid !== 'string')
            throw new TelemetryError('ERR_CREDENTIAL_INVALID', 'credential has no kid');
          const issuer = await issuers.lookup(header.kid);
          if (header.alg !== issuer.alg)
            throw new TelemetryError('ERR_CREDENTIAL_INVALID', 'credential alg is not the issuer key alg');
          return issuer.key;
        },
        {
          typ: CREDENTIAL_TYP,
          algorithms: [...DEVICE_ALGORITHMS],
          currentDate: new Date(now),
          clockTolerance: this.#options.clockSkewSeconds,
          requiredClaims: ['sub', 'exp', 'cnf'],
        },
      ));
    } catch (error) {
      throw credentialError(error);
    }
    const { sub, cnf, exp, nbf } = payload;
    if (!isDeviceId(sub)) throw new TelemetryError('ERR_CREDENTIAL_INVALID', 'credential sub is not a device id');
    const jwk = (cnf as { jwk?: JWK } | null)?.jwk;
    if (typeof jwk !== 'object' || jwk === null || !isDeviceAlgorithm(jwk.alg) || publicJwkProblem(jwk, jwk.alg)) {
      throw new TelemetryError(
        'ERR_CREDENTIAL_INVALID',
        'credential cnf.jwk is not an ES256 or EdDSA public key with alg',
      );
    }
    let key: CryptoKey;
    try {
      key = (await importJWK(publicJwk(jwk), jwk.alg)) as CryptoKey;
    } catch (cause) {
      throw new TelemetryError('ERR_CREDENTIAL_INVALID', 'credential cnf.jwk cannot be imported', { cause });
    }
    return {
      key: {
        device: sub,
        alg: jwk.alg,
        key,
        verifier: KeyObject.from(key),
        kid: jwk.kid,
        source: 'credential',
        notAfter: (exp ?? 0) * 1000,
      },
      notBefore: (nbf ?? 0) * 1000,
    };
  }
}

/** Translates jose's errors by their stable `code`. */
function credentialError(error: unknown): TelemetryError {
  if (error instanceof TelemetryError) {
    return error.code === 'ERR_UNKNOWN_KEY'
      ? new TelemetryError('ERR_CREDENTIAL_INVALID', 'credential is signed by an unknown issuer key', { cause: error })
      : error;
  }
  if (error instanceof errors.JWTExpired) {
    return new TelemetryError('ERR_CREDENTIAL_EXPIRED', 'the device credential has expired', { cause: error });
  }
  if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'nbf') {
    return new TelemetryError('ERR_CREDENTIAL_EXPIRED', 'the device credential is not valid yet', { cause: error });
  }
  return new TelemetryError('ERR_CREDENTIAL_INVALID', 'the device credential does not verify', { cause: error });
}
