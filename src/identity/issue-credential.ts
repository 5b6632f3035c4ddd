import { importJWK, type JWK, SignJWT } from 'jose';
import { isDeviceAlgorithm, publicJwk, publicJwkProblem } from '../protocol/device-algorithm.js';
import { isDeviceId, isKeyId } from '../protocol/names.js';
import { CREDENTIAL_TYP } from '../protocol/wire-types.js';

export interface IssueCredentialOptions {
  /** The fleet issuer's private JWK (with kid and alg). */
  readonly issuerKey: JWK;
  /** The device id the credential binds. */
  readonly device: string;
  /** The device's public JWK (with alg). */
  readonly deviceKey: JWK;
  /** Lifetime in seconds. */
  readonly lifetimeSeconds: number;
  /** Issuer name for the `iss` claim (informational). */
  readonly issuer?: string;
  readonly now: number;
}

/**
 * Issues a device credential: a JWT by the fleet issuer binding `sub` (device id)
 * to `cnf.jwk` (RFC 7800 §3.2), valid from now for `lifetimeSeconds`.
 */
export async function issueCredential(options: IssueCredentialOptions): Promise<string> {
  const { issuerKey, deviceKey, device } = options;
  if (!isDeviceAlgorithm(issuerKey.alg) || !isKeyId(issuerKey.kid) || typeof issuerKey.d !== 'string') {
    throw new TypeError('the issuer key must be a private ES256 or EdDSA JWK with kid and alg');
  }
  if (!isDeviceId(device)) throw new TypeError(`"${device}" is not a valid device id`);
  const devicePublic = publicJwk(deviceKey);
  if (!isDeviceAlgorithm(deviceKey.alg) || publicJwkProblem(devicePublic, deviceKey.alg) !== undefined) {
    throw new TypeError('the device key must be an ES256 or EdDSA JWK with alg');
  }
  const iat = Math.floor(options.now / 1000);
  const jwt = new SignJWT({
    cnf: { jwk: { ...devicePublic, alg: deviceKey.alg, ...(isKeyId(deviceKey.kid) ? { kid: deviceKey.kid } : {}) } },
  })
    .setProtectedHeader({ alg: issuerKey.alg, kid: issuerKey.kid, typ: CREDENTIAL_TYP })
    .setSubject(device)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + options.lifetimeSeconds);
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  return jwt.sign(await importJWK(issuerKey, issuerKey.alg));
}
