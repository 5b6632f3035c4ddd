import { errors, jwtVerify, SignJWT } from 'jose';
import { TelemetryError } from '../errors.js';
import type { DeviceSigner } from './device-signer.js';
import type { KeySourceKind } from './message.js';
import { readJwsHeader } from './read-jws-header.js';
import { deviceHeader } from './sign-message.js';
import type { DeviceKeySource } from './trusted-key.js';
import { CONNECTION_TOKEN_TYP } from './wire-types.js';

/** The audience MQTT connection tokens are issued for unless configured otherwise. */
export const DEFAULT_TOKEN_AUDIENCE = 'telemetry-ingest';

/**
 * Signs a short-lived MQTT connection token (a JWT, sent as the CONNECT
 * password) with the device's own key, as Google Cloud IoT Core and Eclipse
 * Hono do. `now` is ms since the epoch.
 */
export function signConnectionToken(
  signer: DeviceSigner,
  options: { now: number; lifetimeSeconds: number; audience?: string },
): Promise<string> {
  const iat = Math.floor(options.now / 1000);
  return new SignJWT({})
    .setProtectedHeader(deviceHeader(signer, CONNECTION_TOKEN_TYP))
    .setSubject(signer.device)
    .setAudience(options.audience ?? DEFAULT_TOKEN_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + options.lifetimeSeconds)
    .sign(signer.privateKey);
}

export interface ConnectionTokenOptions {
  readonly keys: DeviceKeySource;
  readonly audience: string;
  readonly now: number;
  readonly clockSkewSeconds: number;
  /** Longest lifetime (exp - iat) accepted, in seconds. */
  readonly maxLifetimeSeconds: number;
}

export interface VerifiedConnection {
  readonly device: string;
  /** When the node must close the connection, ms since the epoch. */
  readonly expiresAt: number;
  readonly keySource: KeySourceKind;
}

/**
 * Verifies a connection token; throws ERR_TOKEN_INVALID, ERR_TOKEN_EXPIRED, ERR_SIGNATURE_INVALID,
 * ERR_ALG_NOT_ALLOWED or a key-source code. The order of the checks is docs/PROTOCOL.md §4.3's.
 */
export async function verifyConnectionToken(
  token: string,
  options: ConnectionTokenOptions,
): Promise<VerifiedConnection> {
  let header: ReturnType<typeof readJwsHeader>;
  try {
    header = readJwsHeader(token, CONNECTION_TOKEN_TYP);
  } catch (cause) {
    throw new TelemetryError('ERR_TOKEN_INVALID', 'the connection token is not a device-signed JWT', { cause });
  }
  const key = await options.keys.resolve(header, options.now);
  if (header.alg !== key.alg)
    throw new TelemetryError('ERR_ALG_NOT_ALLOWED', `the device key is registered for ${key.alg}`);
  try {
    const { payload } = await jwtVerify(token, key.key, {
      typ: CONNECTION_TOKEN_TYP,
      algorithms: [key.alg],
      audience: options.audience,
      subject: key.device,
      currentDate: new Date(options.now),
      clockTolerance: options.clockSkewSeconds,
      requiredClaims: ['sub', 'aud', 'iat', 'exp'],
    });
    const iat = payload.iat ?? 0;
    const exp = payload.exp ?? 0;
    if (exp - iat > options.maxLifetimeSeconds) {
      throw new TelemetryError('ERR_TOKEN_EXPIRED', `the token lives longer than ${options.maxLifetimeSeconds} s`);
    }
    if (iat * 1000 > options.now + options.clockSkewSeconds * 1000) {
      throw new TelemetryError('ERR_TOKEN_EXPIRED', 'the token was issued in the future');
    }
    const expiresAt = Math.min(exp * 1000, key.notAfter ?? Number.POSITIVE_INFINITY);
    return { device: key.device, expiresAt, keySource: key.source };
  } catch (error) {
    if (error instanceof TelemetryError) throw error;
    if (error instanceof errors.JWTExpired)
      throw new TelemetryError('ERR_TOKEN_EXPIRED', 'the token has expired', { cause: error });
    // Only a time check that failed means "not yet valid"; a time claim that is missing or not a number is a bad token.
    if (
      error instanceof errors.JWTClaimValidationFailed &&
      error.reason === 'check_failed' &&
      (error.claim === 'nbf' || error.claim === 'iat')
    ) {
      throw new TelemetryError('ERR_TOKEN_EXPIRED', 'the token is not valid yet', { cause: error });
    }
    if (error instanceof errors.JWSSignatureVerificationFailed) {
      throw new TelemetryError('ERR_SIGNATURE_INVALID', 'the token signature does not verify', { cause: error });
    }
    throw new TelemetryError('ERR_TOKEN_INVALID', 'the connection token is not valid', { cause: error });
  }
}
