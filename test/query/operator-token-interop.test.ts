import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestNode } from '../../ingest/build-ingest.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { type KeySources, openKeySources } from '../../src/identity/open-key-sources.js';
import { DAY, NOW, openQueryWorld, type QueryWorld } from './query-fixture.js';

// An operator token minted by a plain JWT library, exactly as docs/QUERY.md ("Operator tokens") describes it,
// not through issueOperatorToken: someone with their own identity provider has only the document to go by.

const ALGORITHMS = ['ES256', 'EdDSA'] as const;
type Algorithm = (typeof ALGORITHMS)[number];

interface Issuer {
  readonly kid: string;
  readonly alg: Algorithm;
  readonly privateKey: CryptoKey;
}

let world: QueryWorld;
let dir: string;
let keys: KeySources;
let node: IngestNode;
const issuers = new Map<Algorithm, Issuer>();
const iat = Math.floor(NOW / 1000);

/** The claims the document lists, with the header it lists. */
function mint(
  issuer: Issuer,
  claims: Record<string, unknown> = { sub: 'alice@example.com', scope: 'read:device:boiler-1', iat, exp: iat + 900 },
  header: { typ?: string; kid?: string } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: issuer.alg, kid: issuer.kid, typ: 'operator+jwt', ...header })
    .sign(issuer.privateKey);
}

function query(token: string) {
  return node.app.inject({
    url: `/v1/query/readings?device=boiler-1&from=${NOW - DAY}&to=${NOW}`,
    headers: { authorization: `Bearer ${token}` },
  });
}

function issuerOf(alg: Algorithm): Issuer {
  const issuer = issuers.get(alg);
  if (issuer === undefined) throw new Error(`no ${alg} issuer`);
  return issuer;
}

beforeAll(async () => {
  world = await openQueryWorld();
  await world.store.write([{ device: 'boiler-1', ts: NOW - 1000, values: { temperature: 21 } }]);
  // The operator issuer JWKS, as the document says to write it: public keys with kid and alg.
  const published = [];
  for (const alg of ALGORITHMS) {
    const { publicKey, privateKey } = await generateKeyPair(alg, {
      extractable: true,
      ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    });
    const kid = `idp-${alg.toLowerCase()}-2026`;
    published.push({ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' });
    issuers.set(alg, { kid, alg, privateKey });
  }
  dir = await mkdtemp(join(tmpdir(), 'operator-interop-'));
  await writeFile(join(dir, 'devices.jwks.json'), '{"keys":[]}');
  await writeFile(join(dir, 'operators.jwks.json'), JSON.stringify({ keys: published }));
  const config = parseConfig({
    TELEMETRY_KEY_REGISTRY: join(dir, 'devices.jwks.json'),
    TELEMETRY_OPERATOR_ISSUERS: join(dir, 'operators.jwks.json'),
    TELEMETRY_KEYS_REFRESH_SECONDS: '0',
  });
  keys = await openKeySources(config, { refreshFailed: () => undefined });
  const operatorIssuers = keys.operatorIssuers;
  if (operatorIssuers === undefined) throw new Error('TELEMETRY_OPERATOR_ISSUERS was not read');
  node = await world.buildNode({ operatorIssuers: operatorIssuers.current });
});

afterAll(async () => {
  keys?.close();
  await world?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('an operator token minted from docs/QUERY.md with another JWT library', () => {
  it.each(ALGORITHMS)('is accepted when signed with %s', async (alg) => {
    const response = await query(await mint(issuerOf(alg)));
    expect(response.statusCode).toBe(200);
    expect(response.json().items).toEqual([{ device: 'boiler-1', metric: 'temperature', ts: NOW - 1000, value: 21 }]);
  });

  it('is accepted with the optional claims the node ignores or checks (iss, aud, jti, nbf) and a media type typ', async () => {
    const claims = {
      iss: 'https://idp.example.com',
      aud: 'telemetry',
      jti: 'a1b2c3',
      sub: 'alice',
      scope: 'read:prefix:boiler- read:device:pump-1',
      iat,
      nbf: iat - 60,
      exp: iat + 8 * 3600,
    };
    const response = await query(await mint(issuerOf('ES256'), claims, { typ: 'application/operator+jwt' }));
    expect(response.statusCode).toBe(200);
  });

  it('is accepted within the clock skew: iat a little ahead, exp a little behind', async () => {
    const claims = { sub: 'alice', scope: 'read', iat: iat + 30, exp: iat - 30 };
    expect((await query(await mint(issuerOf('EdDSA'), claims))).statusCode).toBe(200);
  });
});

describe('an operator token that breaks a rule of docs/QUERY.md', () => {
  const good = { sub: 'alice', scope: 'read', iat, exp: iat + 900 };
  it.each<[string, Record<string, unknown>, { typ?: string; kid?: string }, RegExp]>([
    ['has no sub', { scope: 'read', iat, exp: iat + 900 }, {}, /has no sub claim/],
    ['has an empty sub', { ...good, sub: '' }, {}, /sub claim must be a non-empty string/],
    ['has no scope', { sub: 'alice', iat, exp: iat + 900 }, {}, /has no scope claim/],
    ['has no iat', { sub: 'alice', scope: 'read', exp: iat + 900 }, {}, /has no iat claim/],
    ['has no exp', { sub: 'alice', scope: 'read', iat }, {}, /has no exp claim/],
    ['has a scope the node does not know', { ...good, scope: 'openid read' }, {}, /scope claim must be/],
    ['has scopes separated by two spaces', { ...good, scope: 'read  read' }, {}, /scope claim must be/],
    ['has the typ JWT', good, { typ: 'JWT' }, /typ header must be operator\+jwt/],
    ['has no typ', good, { typ: '' }, /typ header must be operator\+jwt/],
    ['has a kid no issuer key has', good, { kid: 'somebody-else' }, /no trusted operator issuer key has its kid/],
    ['is not valid yet (nbf beyond the skew)', { ...good, nbf: iat + 3600 }, {}, /not valid yet/],
    ['is issued in the future (iat beyond the skew)', { ...good, iat: iat + 3600 }, {}, /issued in the future/],
    ['has an exp that is a string', { ...good, exp: String(iat + 900) }, {}, /exp claim must be a number/],
  ])('is refused with 401 ERR_UNAUTHORIZED when it %s, saying why', async (_name, claims, header, why) => {
    const response = await query(await mint(issuerOf('ES256'), claims, header));
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('ERR_UNAUTHORIZED');
    expect(response.json().error.message).toMatch(why);
    const challenge = String(response.headers['www-authenticate']);
    expect(challenge).toMatch(/^Bearer realm="telemetry-query", error="invalid_token", error_description="[^"\\]*"$/);
  });

  it('is refused with 401 "expired" once exp is past by more than the clock skew', async () => {
    const response = await query(await mint(issuerOf('ES256'), { ...good, iat: iat - 7200, exp: iat - 3600 }));
    expect(response.statusCode).toBe(401);
    expect(response.json().error).toMatchObject({ code: 'ERR_UNAUTHORIZED', message: 'the operator token expired' });
  });

  it('is refused when its alg is not the alg of the issuer key its kid names', async () => {
    const eddsa = issuerOf('EdDSA');
    const token = await mint({ ...eddsa, kid: issuerOf('ES256').kid }, good);
    const response = await query(token);
    expect(response.statusCode).toBe(401);
    expect(response.json().error.message).toMatch(/alg is not the alg of the issuer key/);
  });

  it('is refused when signed with HS256, even with a kid the node trusts', async () => {
    const token = await new SignJWT(good)
      .setProtectedHeader({ alg: 'HS256', kid: issuerOf('ES256').kid, typ: 'operator+jwt' })
      .sign(new Uint8Array(32));
    const response = await query(token);
    expect(response.statusCode).toBe(401);
    expect(response.json().error.message).toMatch(/alg must be one of ES256, EdDSA/);
  });
});
