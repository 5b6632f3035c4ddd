import { importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONNECTION_TOKEN_TYP,
  issueCredential,
  JwksRegistry,
  OPERATOR_TOKEN_TYP,
  signConnectionToken,
  signMessage,
} from '../../src/index.js';
import { DAY, makeOperatorIssuer, NOW, openQueryWorld, type QueryWorld } from './query-fixture.js';

let world: QueryWorld;
const RANGE = `from=${NOW - DAY}&to=${NOW}`;

function get(url: string, authorization?: string) {
  return world.node.app.inject({
    method: 'GET',
    url,
    headers: authorization === undefined ? {} : { authorization },
  });
}

function devicesOf(response: { json(): unknown }): string[] {
  const { items } = response.json() as { items: { device: string }[] };
  return [...new Set(items.map((item) => item.device))];
}

beforeAll(async () => {
  world = await openQueryWorld();
  await world.store.write([
    { device: 'boiler-1', ts: NOW - 1000, values: { temperature: 21 } },
    { device: 'boiler-2', ts: NOW - 1000, values: { temperature: 22 } },
    { device: 'boiler-10', ts: NOW - 1000, values: { temperature: 23 } },
    { device: 'pump-1', ts: NOW - 1000, values: { rpm: 900 } },
    { device: 'pump-2', ts: NOW - 1000, values: { rpm: 950 } },
  ]);
});

afterAll(async () => {
  await world?.close();
});

describe('operator tokens', () => {
  it('refuses a request without a token with 401 and a Bearer challenge', async () => {
    const response = await get(`/v1/query/readings?device=boiler-1&${RANGE}`);
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('ERR_UNAUTHORIZED');
    expect(response.headers['www-authenticate']).toBe('Bearer realm="telemetry-query"');
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('authenticates before it validates, so a caller without a token learns nothing about the query', async () => {
    const response = await get('/v1/query/readings?limit=nonsense');
    expect(response.statusCode).toBe(401);
  });

  it.each<[string, () => Promise<string>]>([
    ['expired', () => world.operators.token('read', { now: NOW - 2 * 3600_000, lifetimeSeconds: 3600 })],
    [
      'tampered (scope widened after signing)',
      async () => {
        const token = await world.operators.token('read:device:boiler-1');
        const [header, payload, signature] = token.split('.');
        const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString());
        const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'read' })).toString('base64url');
        return `${header}.${widened}.${signature}`;
      },
    ],
    [
      'signed by an issuer the node does not trust',
      async () => (await makeOperatorIssuer('operators.k1')).token('read'),
    ],
    [
      'a device credential signed by the operator issuer key itself',
      () =>
        issueCredential({
          issuerKey: world.operators.privateJwk,
          device: 'boiler-1',
          deviceKey: world.devices.boiler1.publicJwk,
          lifetimeSeconds: 3600,
          now: NOW,
        }),
    ],
    [
      'a device connection token',
      () => signConnectionToken(world.devices.boiler1.signer, { now: NOW, lifetimeSeconds: 600 }),
    ],
    ['a signed device message', () => signMessage(world.devices.boiler1.signer, 1, [{ ts: NOW, values: { t: 1 } }])],
    ['garbage', async () => 'not.a.token'],
  ])('refuses a token that is %s with 401', async (_name, make) => {
    const response = await get(`/v1/query/readings?device=boiler-1&${RANGE}`, `Bearer ${await make()}`);
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('ERR_UNAUTHORIZED');
    expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="telemetry-query", error="invalid_token"/);
  });

  it('refuses a device-signed connection token even where the device key is trusted as an operator issuer', async () => {
    // A misconfiguration (a device key in the operator issuer set) must still not let devices read: the typ
    // check tells a connection token from an operator token even when it carries an operator's claims.
    const device = world.devices.pump;
    const node = await world.buildNode({
      operatorIssuers: JwksRegistry.fromDocument({ keys: [device.publicJwk] }, 'issuers', { requireSub: false }),
    });
    const key = await importJWK(device.privateJwk, 'ES256');
    const sign = (typ: string) =>
      new SignJWT({ scope: 'read' })
        .setProtectedHeader({ alg: 'ES256', kid: String(device.publicJwk.kid), typ })
        .setSubject(device.id)
        .setIssuedAt(NOW / 1000)
        .setExpirationTime(NOW / 1000 + 600)
        .sign(key);
    const query = (token: string) =>
      node.app.inject({
        url: `/v1/query/readings?device=pump-1&${RANGE}`,
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await query(await sign(CONNECTION_TOKEN_TYP))).statusCode).toBe(401);
    // The same claims as an operator token pass, which shows the typ is what refused the first one.
    expect((await query(await sign(OPERATOR_TOKEN_TYP))).statusCode).toBe(200);
  });

  it('refuses other authorization schemes', async () => {
    const response = await get(`/v1/query/latest`, 'Basic dXNlcjpwYXNz');
    expect(response.statusCode).toBe(401);
  });

  it('answers 401 to everything, even a well-signed token, when the node trusts no operator issuers', async () => {
    const node = await world.buildNode({ operatorIssuers: null });
    const token = await world.operators.token('read');
    for (const path of [`readings?device=boiler-1&${RANGE}`, 'latest', 'series']) {
      const response = await node.app.inject({
        url: `/v1/query/${path}`,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response.statusCode).toBe(401);
      expect(response.json().error.message).toMatch(/TELEMETRY_OPERATOR_ISSUERS/);
    }
  });
});

describe('scopes', () => {
  it('lets read:device:<id> read that device and answers 403 for any other', async () => {
    const token = `Bearer ${await world.operators.token('read:device:boiler-1')}`;
    expect((await get(`/v1/query/readings?device=boiler-1&${RANGE}`, token)).statusCode).toBe(200);
    const refused = await get(`/v1/query/readings?device=boiler-1&device=boiler-2&${RANGE}`, token);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toMatchObject({ code: 'ERR_FORBIDDEN', message: expect.stringContaining('boiler-2') });
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="telemetry-query", error="insufficient_scope"');
    const windows = await get(`/v1/query/windows?device=boiler-10&windowMs=60000&${RANGE}`, token);
    expect(windows.statusCode).toBe(403);
  });

  it('lets read:prefix:<p> read the devices whose id starts with p', async () => {
    const token = `Bearer ${await world.operators.token('read:prefix:boiler-1')}`;
    expect((await get(`/v1/query/readings?device=boiler-10&${RANGE}`, token)).statusCode).toBe(200);
    expect((await get(`/v1/query/readings?device=boiler-2&${RANGE}`, token)).statusCode).toBe(403);
  });

  it('filters latest values and series to the scope, never showing another device', async () => {
    const cases: Array<[string, string, string[]]> = [
      ['read:device:boiler-1', '', ['boiler-1']],
      ['read:prefix:boiler-', '', ['boiler-1', 'boiler-10', 'boiler-2']],
      ['read:prefix:boiler-', '?prefix=boiler-1', ['boiler-1', 'boiler-10']],
      ['read:prefix:boiler-1', '?prefix=boiler-', ['boiler-1', 'boiler-10']],
      ['read:device:pump-2 read:prefix:boiler-1', '', ['boiler-1', 'boiler-10', 'pump-2']],
      ['read:device:boiler-1 read:prefix:boiler-1', '', ['boiler-1', 'boiler-10']],
      ['read:device:pump-2', '?prefix=boiler', []],
      ['read', '?prefix=pump', ['pump-1', 'pump-2']],
    ];
    for (const [scope, query, devices] of cases) {
      const token = `Bearer ${await world.operators.token(scope)}`;
      for (const endpoint of ['latest', 'series']) {
        const response = await get(`/v1/query/${endpoint}${query}`, token);
        expect(response.statusCode).toBe(200);
        expect({ scope, query, endpoint, devices: devicesOf(response) }).toEqual({ scope, query, endpoint, devices });
      }
    }
  });
});
