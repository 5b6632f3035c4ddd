import { TelemetryError } from '../../src/errors.js';
import type { JwksRegistry } from '../../src/identity/jwks-registry.js';
import type { OperatorTokenCache } from '../../src/identity/operator-token-cache.js';
import { ReadScope } from '../../src/query/read-scope.js';

/** The realm named in every Bearer challenge of the query API. */
const QUERY_REALM = 'telemetry-query';

/** How operator tokens are checked; no issuers means no token is accepted. */
export interface OperatorAuthOptions {
  readonly issuers: (() => JwksRegistry) | undefined;
  readonly now: () => number;
  readonly clockSkewSeconds: number;
  /** Tokens verified before, so that paging through an answer does not check a signature per page. */
  readonly tokens: OperatorTokenCache;
}

/** The outcome of authenticating a query request: a scope, or an error with the challenge to send. */
export type OperatorAuthResult =
  | { readonly ok: true; readonly subject: string; readonly scope: ReadScope }
  | { readonly ok: false; readonly error: TelemetryError; readonly challenge: string };

/** The token of an `Authorization: Bearer <token>` header (RFC 6750 §2.1), or undefined. */
function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(authorization ?? '');
  return match?.[1];
}

function refused(message: string, invalidToken: boolean, cause?: unknown): OperatorAuthResult {
  // RFC 6750 §3: no error attribute when the request carried no credentials at all.
  // RFC 6750 §3: error_description holds printable ASCII but no double quote or backslash.
  const description = message.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, "'");
  const challenge = invalidToken
    ? `Bearer realm="${QUERY_REALM}", error="invalid_token", error_description="${description}"`
    : `Bearer realm="${QUERY_REALM}"`;
  const error = new TelemetryError('ERR_UNAUTHORIZED', message, cause === undefined ? {} : { cause });
  return { ok: false, error, challenge };
}

/** The challenge of a 403 answer: the token is good but its scope is too narrow (RFC 6750 §3.1). */
export function insufficientScopeChallenge(): string {
  return `Bearer realm="${QUERY_REALM}", error="insufficient_scope"`;
}

/**
 * Authenticates a query request from its Authorization header, statelessly:
 * the operator token is verified on every request against the operator
 * issuer keys (its signature once per issuer key set, remembered in
 * {@link OperatorAuthOptions.tokens}), and its scopes say which devices it reads. Device keys,
 * credentials and connection tokens are refused by the token type check in
 * {@link verifyOperatorToken}.
 */
export async function authenticateOperator(
  authorization: string | undefined,
  options: OperatorAuthOptions,
): Promise<OperatorAuthResult> {
  if (options.issuers === undefined) {
    return refused('this node trusts no operator issuers (TELEMETRY_OPERATOR_ISSUERS)', false);
  }
  const token = bearerToken(authorization);
  if (token === undefined) return refused('send an operator token as Authorization: Bearer <token>', false);
  try {
    const verified = await options.tokens.verify(token, {
      issuers: options.issuers(),
      now: options.now(),
      clockSkewSeconds: options.clockSkewSeconds,
    });
    return { ok: true, subject: verified.subject, scope: ReadScope.fromScopes(verified.scopes) };
  } catch (error) {
    // verifyOperatorToken's messages say what is wrong (a missing claim, the wrong typ), never echoing the token.
    const said =
      error instanceof TelemetryError && (error.code === 'ERR_TOKEN_INVALID' || error.code === 'ERR_TOKEN_EXPIRED');
    return refused(said ? error.message : 'the operator token does not verify', true, error);
  }
}
