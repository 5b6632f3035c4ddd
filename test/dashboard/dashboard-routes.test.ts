import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signMessage } from '../../src/index.js';
import { NOW, openQueryWorld, type QueryWorld } from '../query/query-fixture.js';

describe('dashboard routes', () => {
  let world: QueryWorld;
  beforeAll(async () => {
    world = await openQueryWorld();
  });
  afterAll(async () => {
    await world.close();
  });
  const get = (url: string, headers: Record<string, string> = {}) =>
    world.node.app.inject({ method: 'GET', url, headers });

  it('redirects /dashboard to the folder URL its relative links need', async () => {
    const response = await get('/dashboard');
    expect(response.statusCode).toBe(308);
    expect(response.headers.location).toBe('/dashboard/');
  });

  it('serves the page with its content types, revalidation and a CSP allowing only its own import map', async () => {
    const page = await get('/dashboard/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/]+=*'/);
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    const importMap = /<script type="importmap">(.*?)<\/script>/.exec(page.body)?.[1];
    const uplot = (JSON.parse(importMap ?? '{}') as { imports: { uplot: string } }).imports.uplot;
    expect(uplot).toMatch(/^\.\/vendor\/uplot@\d+\.\d+\.\d+\/uPlot\.esm\.js$/);

    const script = await get('/dashboard/dashboard.js');
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const css = await get('/dashboard/dashboard.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');

    const again = await get('/dashboard/', { 'if-none-match': String(page.headers.etag) });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });

  it('serves uPlot from node_modules under a versioned URL, cached for a year', async () => {
    const page = await get('/dashboard/');
    const version = /uplot@(\d+\.\d+\.\d+)/.exec(page.body)?.[1];
    const esm = await get(`/dashboard/vendor/uplot@${version}/uPlot.esm.js`);
    expect(esm.statusCode).toBe(200);
    expect(esm.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(esm.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(esm.body).toContain('export { uPlot as default }');
    const css = await get(`/dashboard/vendor/uplot@${version}/uPlot.min.css`);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await get('/dashboard/vendor/uplot@0.0.0/uPlot.esm.js')).statusCode).toBe(404);
    expect((await get('/dashboard/../package.json')).statusCode).toBe(404);
  });

  it('refuses node stats without a token, and with a token limited to some devices', async () => {
    const none = await get('/v1/query/stats');
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ error: { code: 'ERR_UNAUTHORIZED' } });
    expect(none.headers['cache-control']).toBe('no-store');
    const narrow = await world.operators.token('read:device:boiler-1');
    const limited = await get('/v1/query/stats', { authorization: `Bearer ${narrow}` });
    expect(limited.statusCode).toBe(403);
    expect(limited.headers['www-authenticate']).toContain('insufficient_scope');
  });

  it("answers this node's counters: readings written, messages accepted and rejected by code", async () => {
    const node = await world.buildNode();
    const { boiler1 } = world.devices;
    const message = await signMessage(boiler1.signer, 7, [
      { ts: NOW - 1000, values: { temperature: 20, pressure: 1 } },
      { ts: NOW - 500, values: { temperature: 21 } },
    ]);
    const post = (payload: string) =>
      node.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: { 'content-type': 'application/jose' },
        payload,
      });
    expect((await post(message)).statusCode).toBe(200);
    expect((await post('not.a.jws')).statusCode).toBe(400);
    const token = await world.operators.token('read');
    const response = await node.app.inject({
      method: 'GET',
      url: '/v1/query/stats',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const stats = response.json();
    expect(stats).toMatchObject({
      at: NOW,
      readingsWritten: 2,
      inflightReadings: 0,
      mqttConnections: 0,
      accepted: [{ transport: 'http', count: 1 }],
      rejected: [{ transport: 'http', code: 'ERR_MESSAGE_MALFORMED', count: 1 }],
    });
    expect(stats.node.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('documents the stats endpoint in the OpenAPI document and hides the static files', async () => {
    const doc = (await get('/openapi.json')).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toContain('/v1/query/stats');
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/dashboard'))).toEqual([]);
  });
});
