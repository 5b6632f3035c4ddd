import { errors, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { TelemetryError } from '../errors.js';
import { DEVICE_ALGORITHMS, isDeviceAlgorithm } from '../protocol/device-algorithm.js';
import { isKeyId } from '../protocol/names.js';
import { OPERATOR_TOKEN_TYP } from '../protocol/wire-types.js';
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

/** What a verified operator token says: its subject, its scopes, and when it expires (ms). */
export interface VerifiedOperatorToken {
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
}

/** Claims every operator token carries. */
const REQUIRED_CLAIMS = ['sub', 'scope', 'iat', 'exp'] as const;

function refusal(reason: string, cause?: unknown): TelemetryError {
  return new TelemetryError(
    'ERR_TOKEN_INVALID',
    `the operator token does not verify: ${reason}`,
    cause === undefined ? {} : { cause },
  );
}

/** What jose found wrong, said so that someone minting tokens elsewhere can fix it; undefined for a malformed token. */
function joseReason(error: unknown): string | undefined {
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'typ') return `its typ header must be ${OPERATOR_TOKEN_TYP}`;
    if (error.reason === 'missing') return `it has no ${error.claim} claim`;
    if (error.claim === 'nbf') return 'it is not valid yet (nbf)';
    return `its ${error.claim} claim must be a number`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return `its alg must be one of ${DEVICE_ALGORITHMS.join(', ')}`;
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return 'its signature does not verify with the issuer key';
  return undefined;
}

/**
 * Verifies an operator token and returns its subject and scopes; ERR_TOKEN_INVALID (whose message says what is
 * wrong when it can) or ERR_TOKEN_EXPIRED otherwise. docs/QUERY.md lists every rule checked here.
 */
export async function verifyOperatorToken(
  token: string,
  options: { issuers: JwksRegistry; now: number; clockSkewSeconds: number },
): Promise<VerifiedOperatorToken> {
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        if (typeof header.kid !== 'string') throw refusal('its header has no kid');
        const key = await options.issuers
          .lookup(header.kid)
          .catch((cause: unknown) => Promise.reject(refusal('no trusted operator issuer key has its kid', cause)));
        if (header.alg !== key.alg) throw refusal('its alg is not the alg of the issuer key');
        return key.key;
      },
      {
        typ: OPERATOR_TOKEN_TYP,
        algorithms: [...DEVICE_ALGORITHMS],
        currentDate: new Date(options.now),
        clockTolerance: options.clockSkewSeconds,
        requiredClaims: [...REQUIRED_CLAIMS],
      },
    );
    if (typeof payload.sub !== 'string' || payload.sub === '')
      throw refusal('its sub claim must be a non-empty string');
    if ((payload.iat ?? 0) * 1000 > options.now + options.clockSkewSeconds * 1000) {
      throw refusal('it is issued in the future (iat)');
    }
    if (typeof payload.scope !== 'string' || !isOperatorScope(payload.scope)) {
      throw refusal('its scope claim must be space-separated read, read:device:<id> or read:prefix:<prefix>');
    }
    return { subject: payload.sub, scopes: payload.scope.split(' '), expiresAt: (payload.exp ?? 0) * 1000 };
  } catch (error) {
    if (error instanceof errors.JWTExpired)
      throw new TelemetryError('ERR_TOKEN_EXPIRED', 'the operator token expired', { cause: error });
    if (error instanceof TelemetryError && error.code === 'ERR_TOKEN_INVALID') throw error;
    const reason = joseReason(error);
    if (reason !== undefined) throw refusal(reason, error);
    throw new TelemetryError('ERR_TOKEN_INVALID', 'the operator token does not verify', { cause: error });
  }
}
