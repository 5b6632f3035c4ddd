import { beforeAll, describe, expect, it } from 'vitest';
import { TelemetryError } from '../../src/errors.js';
import { generateKey } from '../../src/identity/generate-key.js';
import { JwksRegistry } from '../../src/identity/jwks-registry.js';
import { issueOperatorToken } from '../../src/identity/operator-token.js';
import { OperatorTokenCache } from '../../src/identity/operator-token-cache.js';

const NOW = Date.UTC(2026, 11, 5, 12);
const SKEW = 60;
let issuerKey: Awaited<ReturnType<typeof generateKey>>;
let issuers: JwksRegistry;

function mint(scope = 'read', lifetimeSeconds = 900, now = NOW): Promise<string> {
  return issueOperatorToken({ issuerKey: issuerKey.privateJwk, subject: 'alice', scope, lifetimeSeconds, now });
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof TelemetryError)) throw new Error(`expected a TelemetryError, got ${String(error)}`);
  return error.code;
}

beforeAll(async () => {
  issuerKey = await generateKey('ES256', 'operators-1');
  issuers = JwksRegistry.fromDocument({ keys: [issuerKey.publicJwk] }, 'operator issuers', { requireSub: false });
});

describe('OperatorTokenCache', () => {
  it('answers a token that verified before with the same subject and scopes, and remembers it once', async () => {
    const cache = new OperatorTokenCache();
    const token = await mint('read:prefix:site-1');
    const first = await cache.verify(token, { issuers, now: NOW, clockSkewSeconds: SKEW });
    const again = await cache.verify(token, { issuers, now: NOW + 1_000, clockSkewSeconds: SKEW });
    expect(again).toEqual(first);
    expect(first.scopes).toEqual(['read:prefix:site-1']);
    expect(cache.remembers(token)).toBe(true);
  });

  it('verifies again once the issuer keys were reloaded, so a revoked issuer key refuses its tokens at once', async () => {
    const cache = new OperatorTokenCache();
    const token = await mint();
    await cache.verify(token, { issuers, now: NOW, clockSkewSeconds: SKEW });
    const other = await generateKey('ES256', 'operators-2');
    const reloaded = JwksRegistry.fromDocument({ keys: [other.publicJwk] }, 'operator issuers', { requireSub: false });
    expect(await refusal(cache.verify(token, { issuers: reloaded, now: NOW, clockSkewSeconds: SKEW }))).toBe(
      'ERR_TOKEN_INVALID',
    );
    expect(cache.remembers(token)).toBe(false);
  });

  it('refuses a remembered token as expired once its exp, with the clock skew allowed, has passed', async () => {
    const cache = new OperatorTokenCache();
    const token = await mint('read', 900);
    const exp = NOW + 900_000;
    await cache.verify(token, { issuers, now: NOW, clockSkewSeconds: SKEW });
    await expect(
      cache.verify(token, { issuers, now: exp + SKEW * 1000 - 1_000, clockSkewSeconds: SKEW }),
    ).resolves.toMatchObject({ subject: 'alice' });
    expect(await refusal(cache.verify(token, { issuers, now: exp + SKEW * 1000, clockSkewSeconds: SKEW }))).toBe(
      'ERR_TOKEN_EXPIRED',
    );
  });

  it('verifies again when the clock reads earlier than when the token verified', async () => {
    const cache = new OperatorTokenCache();
    const issuedLater = NOW + 10 * 60_000;
    const token = await mint('read', 900, issuedLater);
    await cache.verify(token, { issuers, now: issuedLater, clockSkewSeconds: SKEW });
    // Issued ten minutes after this clock reading: in the future, beyond the skew allowed.
    expect(await refusal(cache.verify(token, { issuers, now: NOW, clockSkewSeconds: SKEW }))).toBe('ERR_TOKEN_INVALID');
  });

  it('remembers no token that failed to verify', async () => {
    const cache = new OperatorTokenCache();
    const token = await mint();
    const forged = `${token.slice(0, -4)}AAAA`;
    expect(await refusal(cache.verify(forged, { issuers, now: NOW, clockSkewSeconds: SKEW }))).toBe(
      'ERR_TOKEN_INVALID',
    );
    expect(cache.remembers(forged)).toBe(false);
  });

  it('forgets the oldest token when full', async () => {
    const cache = new OperatorTokenCache(2);
    const [a, b, c] = await Promise.all(['read', 'read:device:a', 'read:device:b'].map((scope) => mint(scope)));
    const tokens = [a, b, c] as string[];
    for (const token of tokens) await cache.verify(token, { issuers, now: NOW, clockSkewSeconds: SKEW });
    expect(tokens.map((token) => cache.remembers(token))).toEqual([false, true, true]);
  });
});
