import { describe, expect, it } from 'vitest';
import type { Aggregate, StoredPoint } from '../../src/store/telemetry-store.js';
import { DAY, MINUTE, NOW, pointsOf } from './query-fixture.js';
import { allPages, expectedWindows, get, qs, recent, useQueryRoutesWorld, world } from './query-routes-support.js';

useQueryRoutesWorld();

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
  it.each<Aggregate>(['mean', 'min', 'max', 'sum', 'count', 'last'])(
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
      expect(body.items).toEqual(expected.map((w) => ({ ...w, value: expect.closeTo(w.value, 10), coverage: 1 })));
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
    const expected = expectedWindows(pointsOf(recent.filter((r) => r.device !== 'pump-1')), 4 * MINUTE, 'max');
    expect(items).toEqual(expected.map((w) => ({ ...w, coverage: 1 })));
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
