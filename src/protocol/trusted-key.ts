import type { KeyObject } from 'node:crypto';
import type { CryptoKey, JWSHeaderParameters } from 'jose';
import type { DeviceAlgorithm } from './device-algorithm.js';
import type { KeySourceKind } from './message.js';

/** A public key the node trusts to speak for one device. */
export interface TrustedKey {
  readonly device: string;
  readonly alg: DeviceAlgorithm;
  readonly key: CryptoKey;
  /** The same public key as a node:crypto KeyObject, for the hot path's synchronous signature check. */
  readonly verifier: KeyObject;
  readonly kid: string | undefined;
  readonly source: KeySourceKind;
  /** For keys bound by a credential: when the credential expires, ms since the epoch. */
  readonly notAfter?: number;
}

/**
 * Finds the key that may verify a JWS with this protected header, or throws a
 * TelemetryError (ERR_UNKNOWN_KEY, ERR_CREDENTIAL_INVALID, ERR_CREDENTIAL_EXPIRED, ...).
 * `now` is the node's clock in ms since the epoch.
 */
export interface DeviceKeySource {
  resolve(header: JWSHeaderParameters, now: number): Promise<TrustedKey>;
}
