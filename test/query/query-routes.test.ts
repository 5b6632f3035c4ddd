import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestNode } from '../../ingest/build-ingest.js';
import { signMessage } from '../../src/index.js';
import type { Reading } from '../../src/protocol/message.js';
import type { Aggregate, StoredPoint } from '../../src/store/telemetry-store.js';
import { DAY, MINUTE, NOW, openQueryWorld, pointsOf, type QueryWorld } from './query-fixture.js';

let world: QueryWorld;
let readToken: string;
const recent: Reading[] = [];
const old: Reading[] = [];
const OLD_START = NOW - 30 * DAY;

/** A GET on the node with the `read` token unless told otherwise. */
function get(url: string, headers: Record<string, string> = {}, node: IngestNode = world.node) {
  return node.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${readToken}`, ...headers } });
}

function qs(params: Record<string, string | number | readonly string[]>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) search.append(name, String(v));
  }
  return search.toString();
}

function errorCode(response: LightMyRequestResponse): string {
  return (response.json() as { error: { code: string } }).error.code;
}

/** Every item of a paged query, following nextCursor, with the size of each page. */
async function allPages(path: string, params: Record<string, string | number | readonly string[]>, node?: IngestNode) {
  const items: StoredPoint[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const response = await get(`${path}?${qs({ ...params, ...(cursor === undefined ? {} : { cursor }) })}`, {}, node);
    expect(response.statusCode).toBe(200);
    const body = response.json() as { items: StoredPoint[]; nextCursor?: string };
    items.push(...body.items);
    sizes.push(body.items.length);
    cursor = body.nextCursor;
    if (cursor === undefined) return { items, sizes };
  }
  throw new Error('paging did not end');
}

/** Windowed aggregates computed here, independently of the store. */
function expectedWindows(points: readonly StoredPoint[], windowMs: number, aggregate: Aggregate) {
  const groups = new Map<string, StoredPoint[]>();
  for (const p of points) {
    const start = p.ts - (((p.ts % windowMs) + windowMs) % windowMs);
    const key = JSON.stringify([p.device, p.metric, start]);
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return [...groups.entries()].map(([key, group]) => {
    const [device, metric, ts] = JSON.parse(key) as [string, string, number];
    const values = group.map((p) => p.value);
    const last = group.reduce((a, b) => (b.ts > a.ts ? b : a)).value;
    const value = {
      mean: values.reduce((a, b) => a + b, 0) / values.length,
      min: Math.min(...values),
      max: Math.max(...values),
      count: values.length,
      last,
    }[aggregate];
    return { device, metric, ts, value };
  });
}

beforeAll(async () => {
  world = await openQueryWorld();
  readToken = await world.operators.token('read');
  const { boiler1, boiler2, pump } = world.devices;
  const batches: Array<[typeof boiler1, Reading[]]> = [
    [
      boiler1,
      Array.from({ length: 12 }, (_, i) => ({
        device: boiler1.id,
        ts: NOW - 30 * MINUTE + i * 2 * MINUTE + 7,
        values: { temperature: 20 + i * 0.25, pressure: 1 + i / 100 },
      })),
    ],
    [
      boiler2,
      Array.from({ length: 6 }, (_, i) => ({
        device: boiler2.id,
        ts: NOW - 20 * MINUTE + i * 3 * MINUTE + 1,
        values: { temperature: 30 - i * 1.5 },
      })),
    ],
    [
      pump,
      Array.from({ length: 4 }, (_, i) => ({
        device: pump.id,
        ts: NOW - 10 * MINUTE + i * MINUTE,
        values: { rpm: 900 + i * 10 },
      })),
    ],
  ];
  // Recent readings go through the real ingest path: signed, verified, batched, stored.
  for (const [device, readings] of batches) {
    const message = await signMessage(
      device.signer,
      1,
      readings.map(({ ts, values }) => ({ ts, values })),
    );
    const response = await world.node.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { 'content-type': 'application/jose' },
      payload: message,
    });
    expect(response.statusCode).toBe(200);
    recent.push(...readings);
  }
  // Readings older than any node accepts can only be in the store from the past: write them directly.
  old.push(
    ...Array.from({ length: 10 }, (_, i) => ({
      device: boiler1.id,
      ts: OLD_START + i * MINUTE,
      values: { temperature: 10 + i },
    })),
  );
  await world.store.write(old);
});

afterAll(async () => {
  await world?.close();
});

describe('GET /v1/query/readings', () => {
  it('returns exactly the values and timestamps written, ordered by device, metric and time', async () => {
    const response = await get(
      `/v1/query/readings?${qs({ device: ['boiler-1', 'boiler-2'], from: NOW - DAY, to: NOW })}`,
    );
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      from: NOW - DAY,
      to: NOW,
      items: pointsOf(recent.filter((r) => r.device !== 'pump-1')),
    });
  });

  it('keeps to the metrics and the half-open range asked for', async () => {
    const from = NOW - 30 * MINUTE + 2 * MINUTE + 7;
    const to = NOW - 30 * MINUTE + 8 * MINUTE + 7;
    const response = await get(`/v1/query/readings?${qs({ device: 'boiler-1', metric: 'pressure', from, to })}`);
    const expected = pointsOf(recent).filter(
      (p) => p.device === 'boiler-1' && p.metric === 'pressure' && p.ts >= from && p.ts < to,
    );
    expect(expected).toHaveLength(3);
    expect(response.json().items).toEqual(expected);
  });

  it('takes RFC 3339 times as well as milliseconds, with the same answer', async () => {
    const params = { device: 'boiler-1', from: NOW - DAY, to: NOW };
    const rfc = { ...params, from: new Date(NOW - DAY).toISOString(), to: '2026-11-28T13:00:00+01:00' };
    const [a, b] = await Promise.all([get(`/v1/query/readings?${qs(params)}`), get(`/v1/query/readings?${qs(rfc)}`)]);
    expect(b.statusCode).toBe(200);
    expect(b.json()).toEqual(a.json());
  });

  it('pages with the cursor so that every row comes exactly once, and any node can continue', async () => {
    const params = { device: ['boiler-1', 'boiler-2', 'pump-1'], from: NOW - DAY, to: NOW, limit: 7 };
    const other = await world.buildNode();
    const { items, sizes } = await allPages('/v1/query/readings', params);
    expect(items).toEqual(pointsOf(recent));
    expect(sizes.every((size) => size <= 7)).toBe(true);
    expect(sizes.length).toBe(Math.ceil(items.length / 7));

    const first = (await get(`/v1/query/readings?${qs(params)}`)).json();
    const second = await get(`/v1/query/readings?${qs({ ...params, cursor: first.nextCursor })}`, {}, other);
    expect(second.json().items).toEqual(items.slice(7, 14));
  });

  it('names the next page in a Link header as well', async () => {
    const response = await get(`/v1/query/readings?${qs({ device: 'boiler-1', from: NOW - DAY, to: NOW, limit: 5 })}`);
    const { nextCursor } = response.json();
    expect(response.headers.link).toBe(
      `</v1/query/readings?${qs({ device: 'boiler-1', from: NOW - DAY, to: NOW, limit: 5, cursor: nextCursor })}>; rel="next"`,
    );
  });
});

describe('GET /v1/query/windows', () => {
  it.each<Aggregate>(['mean', 'min', 'max', 'count', 'last'])(
    'answers the %s of each epoch-aligned window as computed from the readings',
    async (aggregate) => {
      const windowMs = 5 * MINUTE;
      const params = { device: ['boiler-1', 'boiler-2'], from: NOW - DAY, to: NOW, windowMs, aggregate };
      const response = await get(`/v1/query/windows?${qs(params)}`);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body).toMatchObject({ from: NOW - DAY, to: NOW, windowMs, aggregate });
      const expected = expectedWindows(pointsOf(recent.filter((r) => r.device !== 'pump-1')), windowMs, aggregate);
      expect(body.items).toHaveLength(expected.length);
      expect(body.items).toEqual(expected.map((w) => ({ ...w, value: expect.closeTo(w.value, 10) })));
    },
  );

  it('pages windows with the cursor, every window once', async () => {
    const params = {
      device: ['boiler-1', 'boiler-2'],
      from: NOW - DAY,
      to: NOW,
      windowMs: 4 * MINUTE,
      aggregate: 'max',
      limit: 3,
    };
    const { items, sizes } = await allPages('/v1/query/windows', params);
    expect(items).toEqual(expectedWindows(pointsOf(recent.filter((r) => r.device !== 'pump-1')), 4 * MINUTE, 'max'));
    expect(Math.max(...sizes)).toBe(3);
  });
});

describe('GET /v1/query/latest and /v1/query/series', () => {
  const newest = () => {
    const byKey = new Map<string, StoredPoint>();
    for (const p of pointsOf(recent)) byKey.set(`${p.device} ${p.metric}`, p);
    return [...byKey.values()];
  };

  it('answers the newest value of each device and metric', async () => {
    const response = await get('/v1/query/latest');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ items: newest() });
  });

  it('filters the latest values on a device id prefix and on metrics', async () => {
    expect((await get('/v1/query/latest?prefix=boiler-')).json().items).toEqual(
      newest().filter((p) => p.device.startsWith('boiler-')),
    );
    expect((await get('/v1/query/latest?metric=temperature&metric=rpm')).json().items).toEqual(
      newest().filter((p) => p.metric !== 'pressure'),
    );
  });

  it('lists every device and metric with when it was last seen', async () => {
    const response = await get('/v1/query/series');
    expect(response.json()).toEqual({
      items: newest().map(({ device, metric, ts }) => ({ device, metric, lastSeen: ts })),
    });
    expect((await get('/v1/query/series?prefix=pump')).json().items).toEqual([
      { device: 'pump-1', metric: 'rpm', lastSeen: NOW - 10 * MINUTE + 3 * MINUTE },
    ]);
  });
});

describe('query parameters', () => {
  const base = { device: 'boiler-1', from: NOW - DAY, to: NOW };
  it.each<[string, Record<string, string | number | readonly string[]>, string]>([
    ['no device', { from: NOW - DAY, to: NOW }, 'readings'],
    ['no range', { device: 'boiler-1' }, 'readings'],
    ['a limit above 10000', { ...base, limit: 10_001 }, 'readings'],
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
  });

  it.each<[string, string, string]>([
    ['over 512 characters', 'A'.repeat(513), 'readings'],
    ['far over 512 characters', 'A'.repeat(4000), 'windows'],
    ['not base64url', 'abc+/=', 'readings'],
    ['with a character no cursor has', 'abc.def', 'windows'],
    ['empty', '', 'readings'],
  ])('answers 400 ERR_CURSOR_INVALID, not ERR_QUERY_INVALID, to a cursor %s', async (_name, cursor, endpoint) => {
    const response = await get(`/v1/query/${endpoint}?${qs({ ...base, windowMs: 60_000, cursor })}`);
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
      `device,metric,ts,value\r\npump-1,rpm,${NOW - 10 * MINUTE},2\r\npump-1,rpm,${NOW - 8 * MINUTE},2\r\n`,
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
    expect(response.headers.vary).toBe('Authorization, Accept');
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
