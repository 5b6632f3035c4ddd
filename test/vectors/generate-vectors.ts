/**
 * Writes test/vectors/messages.json and test/vectors/connection-tokens.json:
 * signed inputs with the outcome every conforming node must reach. Run with
 * `npm run vectors` only when the protocol changes; the files are part of the
 * spec and are committed. ECDSA signatures are randomised, so a new run gives
 * new bytes with the same meaning.
 */
import { writeFile } from 'node:fs/promises';
import { SignJWT } from 'jose';
import { CONNECTION_TOKEN_TYP, type DeviceSigner, signConnectionToken } from '../../src/index.js';
import { messageVectors } from './message-vectors.js';
import { type Case, NOW, SETTINGS, type VectorFleet, vectorFleet } from './vector-fixtures.js';

interface TokenCase {
  name: string;
  token: string;
  expect: { ok: true; device: string; expiresAt: number } | { ok: false; error: string };
}

/** A connection token with exactly `claims`, for the claim rules signConnectionToken never breaks. */
function tokenWith(signer: DeviceSigner, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: signer.alg, typ: CONNECTION_TOKEN_TYP, kid: signer.kid as string })
    .sign(signer.privateKey);
}

/** The connection-token vectors; `good` is a telemetry message, which must not pass for a token. */
async function tokenVectors(f: VectorFleet, good: string): Promise<TokenCase[]> {
  const { es, ed, other, cred, credSigner } = f;
  const tokens: TokenCase[] = [];
  const addToken = async (name: string, token: string | Promise<string>, expect: TokenCase['expect']) =>
    tokens.push({ name, token: await token, expect });
  await addToken(
    'valid token, registry key',
    signConnectionToken(es.signer, { now: NOW - 60_000, lifetimeSeconds: 3600 }),
    { ok: true, device: es.id, expiresAt: NOW - 60_000 + 3_600_000 },
  );
  await addToken(
    'valid token, device credential',
    signConnectionToken(credSigner, { now: NOW, lifetimeSeconds: 600 }),
    { ok: true, device: cred.id, expiresAt: NOW + 600_000 },
  );
  await addToken('expired token', signConnectionToken(ed.signer, { now: NOW - 7_200_000, lifetimeSeconds: 3600 }), {
    ok: false,
    error: 'ERR_TOKEN_EXPIRED',
  });
  await addToken(
    'token living longer than allowed',
    signConnectionToken(ed.signer, { now: NOW, lifetimeSeconds: 7 * 86_400 }),
    { ok: false, error: 'ERR_TOKEN_EXPIRED' },
  );
  await addToken(
    'token for another audience',
    signConnectionToken(es.signer, { now: NOW, lifetimeSeconds: 600, audience: 'someone-else' }),
    { ok: false, error: 'ERR_TOKEN_INVALID' },
  );
  await addToken('a telemetry message instead of a token', good, { ok: false, error: 'ERR_TOKEN_INVALID' });
  await addToken(
    'token signed by another device under this kid',
    signConnectionToken({ ...other.signer, kid: es.signer.kid as string }, { now: NOW, lifetimeSeconds: 600 }),
    { ok: false, error: 'ERR_SIGNATURE_INVALID' },
  );
  await claimCases(f, addToken);
  return tokens;
}

/** Each claim rule of PROTOCOL.md §4.3, at and beyond its edge. */
async function claimCases(
  f: VectorFleet,
  addToken: (name: string, token: string | Promise<string>, expect: TokenCase['expect']) => Promise<unknown>,
): Promise<void> {
  const { es, other } = f;
  const iat = NOW / 1000 - 60;
  const base = { sub: es.id, aud: SETTINGS.tokenAudience, iat, exp: iat + 600 };
  await addToken(
    'valid token, aud an array holding the audience',
    tokenWith(es.signer, { ...base, aud: ['someone-else', SETTINGS.tokenAudience] }),
    { ok: true, device: es.id, expiresAt: (iat + 600) * 1000 },
  );
  await addToken(
    'valid token, iat within the clock skew ahead',
    tokenWith(es.signer, { ...base, iat: NOW / 1000 + SETTINGS.clockSkewSeconds }),
    { ok: true, device: es.id, expiresAt: (iat + 600) * 1000 },
  );
  for (const claim of ['sub', 'aud', 'iat', 'exp'] as const) {
    const { [claim]: _left, ...rest } = base;
    await addToken(`token without ${claim}`, tokenWith(es.signer, rest), { ok: false, error: 'ERR_TOKEN_INVALID' });
  }
  await addToken('token with iat as a string', tokenWith(es.signer, { ...base, iat: String(iat) }), {
    ok: false,
    error: 'ERR_TOKEN_INVALID',
  });
  await addToken('token whose sub is another device than its key', tokenWith(es.signer, { ...base, sub: other.id }), {
    ok: false,
    error: 'ERR_TOKEN_INVALID',
  });
  await addToken(
    'token issued beyond the clock skew ahead',
    tokenWith(es.signer, { ...base, iat: NOW / 1000 + SETTINGS.clockSkewSeconds + 1 }),
    { ok: false, error: 'ERR_TOKEN_EXPIRED' },
  );
  await addToken(
    'token with nbf beyond the clock skew ahead',
    tokenWith(es.signer, { ...base, nbf: NOW / 1000 + SETTINGS.clockSkewSeconds + 1 }),
    { ok: false, error: 'ERR_TOKEN_EXPIRED' },
  );
}

/** What both files share: how to replay them, the time and settings, and the keys to trust. */
function vectorKeys(f: VectorFleet) {
  const { es, ed, other, cred, issuer } = f;
  return {
    description:
      'Replayed by test/vectors/vectors.test.ts. Verify each message at time `now` with `settings`, trusting `registry` (device keys) and `issuers` (fleet issuer keys for device credentials), and reach `expect`. `deviceKeys` are the private keys that signed them, for implementers checking their own signer.',
    protocol: 1,
    now: NOW,
    settings: SETTINGS,
    registry: { keys: [es.publicJwk, ed.publicJwk, other.publicJwk] },
    issuers: { keys: [issuer.publicJwk] },
    deviceKeys: Object.fromEntries([es, ed, other, cred].map((d) => [d.id, d.privateJwk])),
  };
}

async function main(): Promise<void> {
  const fleet = await vectorFleet();
  const cases: Case[] = [];
  const add = async (
    name: string,
    message: string | Promise<string>,
    expect: Case['expect'],
    context?: Case['context'],
  ) => cases.push({ name, message: await message, expect, ...(context === undefined ? {} : { context }) });
  const good = await messageVectors(fleet, add);
  const keys = vectorKeys(fleet);
  await writeFile(new URL('./messages.json', import.meta.url), `${JSON.stringify({ ...keys, cases }, null, 2)}\n`);

  const tokens = await tokenVectors(fleet, good);
  await writeFile(
    new URL('./connection-tokens.json', import.meta.url),
    `${JSON.stringify({ ...keys, cases: tokens }, null, 2)}\n`,
  );
  process.stdout.write(`wrote ${cases.length} message vectors and ${tokens.length} token vectors\n`);
}

await main();
