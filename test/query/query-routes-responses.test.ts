import { describe, expect, it } from 'vitest';
import { DAY, MINUTE, NOW, pointsOf } from './query-fixture.js';
import { errorCode, get, OLD_START, old, qs, recent, useQueryRoutesWorld, world } from './query-routes-support.js';

useQueryRoutesWorld();

describe('query parameters', () => {
  const base = { device: 'boiler-1', from: NOW - DAY, to: NOW };
  it.each<[string, Record<string, string | number | readonly string[]>, string]>([
    ['no device', { from: NOW - DAY, to: NOW }, 'readings'],
    ['no range', { device: 'boiler-1' }, 'readings'],
    ['a limit above 100000', { ...base, limit: 100_001 }, 'readings'],
    ['a limit of 0', { ...base, limit: 0 }, 'readings'],
    ['a time that is neither ms nor RFC 3339', { ...base, from: 'yesterday' }, 'readings'],
    ['a date that does not exist', { ...base, from: '2026-02-30T00:00:00Z' }, 'readings'],
    ['a time without a zone', { ...base, from: '2026-11-28T10:00:00' }, 'readings'],
    ['from after to', { ...base, from: NOW, to: NOW - 1 }, 'readings'],
    ['a device id with a quote', { ...base, device: "boiler'1" }, 'readings'],
    ['a windowMs of 0', { ...base, windowMs: 0 }, 'windows'],
    ['a negative windowMs', { ...base, windowMs: -5 }, 'windows'],
    ['no windowMs', base, 'windows'],
    ['an unknown aggregate', { ...base, windowMs: 1000, aggregate: 'median' }, 'windows'],
    ['an unknown format', { ...base, format: 'xml' }, 'readings'],
    ['a prefix with a slash', { prefix: 'a/b' }, 'latest'],
  ])('answers 400 ERR_QUERY_INVALID to %s', async (_name, params, endpoint) => {
    const response = await get(`/v1/query/${endpoint}?${qs(params)}`);
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('ERR_QUERY_INVALID');
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('answers 400 ERR_CURSOR_INVALID to a malformed cursor and to the cursor of another query', async () => {
    const bad = await get(`/v1/query/readings?${qs({ ...base, cursor: 'bm90LWEtY3Vyc29y' })}`);
    expect(bad.statusCode).toBe(400);
    expect(errorCode(bad)).toBe('ERR_CURSOR_INVALID');
    const { nextCursor } = (await get(`/v1/query/readings?${qs({ ...base, limit: 2 })}`)).json();
    const elsewhere = await get(`/v1/query/readings?${qs({ ...base, from: NOW - 2 * DAY, cursor: nextCursor })}`);
    expect(elsewhere.statusCode).toBe(400);
    expect(errorCode(elsewhere)).toBe('ERR_CURSOR_INVALID');
    // A cursor of this query whose counts of the series ahead are not whole numbers is malformed too.
    const body = JSON.parse(Buffer.from(nextCursor, 'base64url').toString('utf8'));
    const forged = Buffer.from(JSON.stringify({ ...body, a: [['boiler-1', 'temp', -1]] })).toString('base64url');
    const counted = await get(`/v1/query/readings?${qs({ ...base, limit: 2, cursor: forged })}`);
    expect(counted.statusCode).toBe(400);
    expect(errorCode(counted)).toBe('ERR_CURSOR_INVALID');
  });

  it.each<[string, string, string]>([
    ['over 2,048 characters', 'A'.repeat(2_049), 'readings'],
    ['far over 2,048 characters', 'A'.repeat(8_000), 'windows'],
    ['not base64url', 'abc+/=', 'readings'],
    ['with a character no cursor has', 'abc.def', 'windows'],
    ['empty', '', 'readings'],
  ])('answers 400 ERR_CURSOR_INVALID, not ERR_QUERY_INVALID, to a cursor %s', async (_name, cursor, endpoint) => {
    const windowed: Record<string, number> = endpoint === 'windows' ? { windowMs: 60_000 } : {};
    const response = await get(`/v1/query/${endpoint}?${qs({ ...base, ...windowed, cursor })}`);
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('ERR_CURSOR_INVALID');
    expect(response.headers['cache-control']).toBe('no-store');
  });

  it('reads RFC 3339 years before 100 as written, and answers a range reaching back to year 1', async () => {
    const response = await get(`/v1/query/readings?${qs({ ...base, from: '0001-01-01T00:00:00Z', limit: 2 })}`);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.from).toBe(-62_135_596_800_000);
    expect(body.items).toHaveLength(2);
    const next = await get(
      `/v1/query/readings?${qs({ ...base, from: '0001-01-01T00:00:00Z', cursor: body.nextCursor })}`,
    );
    expect(next.statusCode).toBe(200);
    const everything = await get(`/v1/query/readings?${qs({ ...base, from: 0 })}`);
    expect([...body.items, ...next.json().items]).toEqual(everything.json().items);
    const before = await get(
      `/v1/query/readings?${qs({ ...base, from: '0000-01-01T00:00:00Z', to: '0099-12-31T23:59:59Z' })}`,
    );
    expect(before.json()).toEqual({ from: -62_167_219_200_000, to: -59_011_459_201_000, items: [] });
  });
});

describe('CSV', () => {
  it('answers RFC 4180 CSV with a header row for format=csv and for Accept: text/csv', async () => {
    const params = { device: 'pump-1', from: NOW - DAY, to: NOW };
    const byParam = await get(`/v1/query/readings?${qs({ ...params, format: 'csv' })}`);
    const byAccept = await get(`/v1/query/readings?${qs(params)}`, { accept: 'text/csv' });
    const expected = [
      'device,metric,ts,value',
      ...pointsOf(recent)
        .filter((p) => p.device === 'pump-1')
        .map((p) => `${p.device},${p.metric},${p.ts},${p.value}`),
    ]
      .map((line) => `${line}\r\n`)
      .join('');
    for (const response of [byParam, byAccept]) {
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('text/csv; charset=utf-8; header=present');
      expect(response.body).toBe(expected);
    }
  });

  it('answers CSV for windows, latest and series with the fields of their JSON items as columns', async () => {
    const windows = await get(
      `/v1/query/windows?${qs({ device: 'pump-1', from: NOW - DAY, to: NOW, windowMs: 2 * MINUTE, aggregate: 'count', format: 'csv' })}`,
    );
    expect(windows.body).toBe(
      `device,metric,ts,value,coverage\r\npump-1,rpm,${NOW - 10 * MINUTE},2,1\r\npump-1,rpm,${NOW - 8 * MINUTE},2,1\r\n`,
    );
    const series = await get('/v1/query/series?prefix=pump&format=csv');
    expect(series.body).toBe(`device,metric,lastSeen\r\npump-1,rpm,${NOW - 7 * MINUTE}\r\n`);
    const latest = await get('/v1/query/latest?prefix=pump', { accept: 'text/csv, application/json;q=0.5' });
    expect(latest.body).toBe(`device,metric,ts,value\r\npump-1,rpm,${NOW - 7 * MINUTE},930\r\n`);
  });
});

describe('caching', () => {
  const oldRange = { device: 'boiler-1', from: OLD_START - DAY, to: OLD_START + DAY };

  it('lets a range that ended before the oldest reading a node accepts be cached for a day, privately', async () => {
    const response = await get(`/v1/query/readings?${qs(oldRange)}`);
    expect(response.json().items).toEqual(pointsOf(old));
    expect(response.headers['cache-control']).toBe('private, max-age=86400, immutable');
    expect(response.headers.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(response.headers.vary).toBe('Authorization, Accept, Accept-Encoding');
  });

  it('makes caches revalidate a range that may still change, and the latest values and series', async () => {
    // The default maximum reading age is 7 days: a range ending 6 days ago can still receive readings.
    const params = { device: 'boiler-1', from: NOW - 8 * DAY, to: NOW - 6 * DAY };
    for (const url of [`/v1/query/readings?${qs(params)}`, '/v1/query/latest', '/v1/query/series']) {
      const response = await get(url);
      expect(response.headers['cache-control']).toBe('private, no-cache');
      expect(response.headers.etag).toMatch(/^"/);
    }
  });

  it('answers 304 without a body when If-None-Match holds the ETag of the same answer', async () => {
    const url = `/v1/query/readings?${qs(oldRange)}`;
    const first = await get(url);
    const etag = String(first.headers.etag);
    const again = await get(url, { 'if-none-match': `"other", W/${etag}` });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    expect(again.headers.etag).toBe(etag);
    expect(again.headers['cache-control']).toBe('private, max-age=86400, immutable');
    const csv = await get(`${url}&format=csv`, { 'if-none-match': etag });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers.etag).not.toBe(etag);
    const latest = await get('/v1/query/latest');
    expect((await get('/v1/query/latest', { 'if-none-match': String(latest.headers.etag) })).statusCode).toBe(304);
  });

  it('gives the same ETag on every node for the same answer', async () => {
    const other = await world.buildNode();
    const url = `/v1/query/readings?${qs(oldRange)}`;
    expect((await get(url, {}, other)).headers.etag).toBe((await get(url)).headers.etag);
  });
});
