import { errors, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { TelemetryError } from '../errors.js';
import { DEVICE_ALGORITHMS, isDeviceAlgorithm } from '../protocol/device-algorithm.js';
import { OPERATOR_TOKEN_TYP } from '../protocol/limits.js';
import { isKeyId } from '../protocol/names.js';
import type { JwksRegistry } from './jwks-registry.js';

/**
 * What an operator token lets its holder read, as space-separated scopes
 * (RFC 8693 §4.2): `read` (everything), `read:device:<id>`, `read:prefix:<device id prefix>`.
 */
export type OperatorScope = string;

const SCOPE_ITEM = /^(read|read:device:[A-Za-z0-9._-]{1,64}|read:prefix:[A-Za-z0-9._-]{1,64})$/;

/** Whether `scope` is a valid space-separated list of read scopes. */
export function isOperatorScope(scope: string): boolean {
  const items = scope.split(' ');
  return items.length > 0 && items.every((item) => SCOPE_ITEM.test(item));
}

/** Issues an operator token for the query API, signed by the operator issuer key. */
export async function issueOperatorToken(options: {
  issuerKey: JWK;
  subject: string;
  scope: OperatorScope;
  lifetimeSeconds: number;
  now: number;
}): Promise<string> {
  const { issuerKey } = options;
  if (!isDeviceAlgorithm(issuerKey.alg) || !isKeyId(issuerKey.kid) || typeof issuerKey.d !== 'string') {
    throw new TypeError('the operator issuer key must be a private ES256 or EdDSA JWK with kid and alg');
  }
  if (!isOperatorScope(options.scope)) throw new TypeError(`"${options.scope}" is not a valid scope`);
  const iat = Math.floor(options.now / 1000);
  return new SignJWT({ scope: options.scope })
    .setProtectedHeader({ alg: issuerKey.alg, kid: issuerKey.kid, typ: OPERATOR_TOKEN_TYP })
    .setSubject(options.subject)
    .setIssuedAt(iat)
    .setExpirationTime(iat + options.lifetimeSeconds)
    .sign(await importJWK(issuerKey, issuerKey.alg));
}

/** Verifies an operator token and returns its subject and scopes; ERR_TOKEN_INVALID or ERR_TOKEN_EXPIRED otherwise. */
export async function verifyOperatorToken(
  token: string,
  options: { issuers: JwksRegistry; now: number; clockSkewSeconds: number },
): Promise<{ subject: string; scopes: readonly string[]; expiresAt: number }> {
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        if (typeof header.kid !== 'string') throw new TelemetryError('ERR_TOKEN_INVALID', 'operator token has no kid');
        const key = await options.issuers.lookup(header.kid);
        if (header.alg !== key.alg)
          throw new TelemetryError('ERR_TOKEN_INVALID', 'operator token alg is not the issuer key alg');
        return key.key;
      },
      {
        typ: OPERATOR_TOKEN_TYP,
        algorithms: [...DEVICE_ALGORITHMS],
        currentDate: new Date(options.now),
        clockTolerance: options.clockSkewSeconds,
        requiredClaims: ['sub', 'exp', 'iat', 'scope'],
      },
    );
    if ((payload.iat ?? 0) * 1000 > options.now + options.clockSkewSeconds * 1000) {
      throw new TelemetryError('ERR_TOKEN_INVALID', 'operator token is issued in the future');
    }
    if (typeof payload.scope !== 'string' || !isOperatorScope(payload.scope)) {
      throw new TelemetryError('ERR_TOKEN_INVALID', 'operator token scope is not valid');
    }
    return { subject: payload.sub ?? '', scopes: payload.scope.split(' '), expiresAt: (payload.exp ?? 0) * 1000 };
  } catch (error) {
    if (error instanceof errors.JWTExpired)
      throw new TelemetryError('ERR_TOKEN_EXPIRED', 'operator token expired', { cause: error });
    if (error instanceof TelemetryError && error.code === 'ERR_TOKEN_INVALID') throw error;
    throw new TelemetryError('ERR_TOKEN_INVALID', 'operator token does not verify', { cause: error });
  }
}
