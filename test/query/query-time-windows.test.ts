import { describe, expect, it } from 'vitest';
import { DAY, MINUTE, NOW, pointsOf } from './query-fixture.js';
import {
  allPages,
  errorCode,
  expectedWindows,
  get,
  qs,
  recent,
  useQueryRoutesWorld,
  world,
} from './query-routes-support.js';

useQueryRoutesWorld();

const HOUR = 60 * MINUTE;

function errorMessage(response: { json(): unknown }): string {
  return (response.json() as { error: { message: string } }).error.message;
}

describe('unknown parameters', () => {
  it('refuses a query with parameters the endpoint does not take, naming each of them', async () => {
    const response = await get(
      `/v1/query/readings?${qs({ device: 'boiler-1', from: NOW - DAY, to: NOW, colour: 'red', tz: 'UTC' })}`,
    );
    expect(response.statusCode).toBe(400);
    expect(errorCode(response)).toBe('ERR_QUERY_INVALID');
    expect(errorMessage(response)).toBe('unknown query parameter: colour, tz');
    const latest = await get('/v1/query/latest?prefxi=boiler');
    expect(latest.statusCode).toBe(400);
    expect(errorMessage(latest)).toContain('prefxi');
  });
});

describe('relative times', () => {
  it('reads now-1h and now at the node clock, with the same answer as the instants they name', async () => {
    const relative = await get(`/v1/query/readings?${qs({ device: 'boiler-1', from: 'now-1h', to: 'now' })}`);
    const absolute = await get(`/v1/query/readings?${qs({ device: 'boiler-1', from: NOW - HOUR, to: NOW })}`);
    expect(relative.statusCode).toBe(200);
    expect(relative.json()).toEqual(absolute.json());
    expect(relative.json().items.length).toBeGreaterThan(0);
  });

  it('names the range in milliseconds in the link to the next page, so following it continues the same query', async () => {
    const first = await get(`/v1/query/readings?${qs({ device: 'boiler-1', from: 'now-15m', to: 'now', limit: 2 })}`);
    const link = String(first.headers.link);
    expect(link).toContain(`from=${NOW - 15 * MINUTE}`);
    expect(link).toContain(`to=${NOW}`);
    const next = await get(/^<([^>]+)>/.exec(link)?.[1] ?? '');
    expect(next.statusCode).toBe(200);
    expect(next.json().items[0].ts).toBeGreaterThan(first.json().items[1].ts);
  });

  it('refuses a relative time in another form', async () => {
    for (const from of ['now-1y', 'now+1h', 'now-', '-1h']) {
      const response = await get(`/v1/query/readings?${qs({ device: 'boiler-1', from, to: 'now' })}`);
      expect(response.statusCode, from).toBe(400);
    }
  });
});

describe('windows in a time zone, and their coverage', () => {
  it('aligns day windows to local midnight in tz and says how much of each window the range covers', async () => {
    const params = { device: 'pump-1', from: NOW - DAY, to: NOW, windowMs: DAY, aggregate: 'count' };
    const berlin = await get(`/v1/query/windows?${qs({ ...params, tz: 'Europe/Berlin' })}`);
    expect(berlin.statusCode).toBe(200);
    // 28 November: Berlin is at UTC+1, so its day starts at 23:00 UTC the day before; the range holds 13 h of it.
    const count = pointsOf(recent).filter((p) => p.device === 'pump-1').length;
    expect(berlin.json()).toMatchObject({ tz: 'Europe/Berlin', windowMs: DAY });
    expect(berlin.json().items).toEqual([
      { device: 'pump-1', metric: 'rpm', ts: Date.UTC(2026, 10, 27, 23), value: count, coverage: 13 / 24 },
    ]);
    const utc = await get(`/v1/query/windows?${qs(params)}`);
    expect(utc.json().items).toEqual([
      { device: 'pump-1', metric: 'rpm', ts: Date.UTC(2026, 10, 28), value: count, coverage: 0.5 },
    ]);
  });

  it('gives a window cut by the range the share of it that the range holds', async () => {
    const params = { device: 'pump-1', from: NOW - 45 * MINUTE, to: NOW, windowMs: HOUR, aggregate: 'count' };
    const response = await get(`/v1/query/windows?${qs(params)}`);
    expect(response.json().items).toEqual([
      { device: 'pump-1', metric: 'rpm', ts: NOW - HOUR, value: 4, coverage: 0.75 },
    ]);
  });

  it('refuses day windows across a daylight saving change of tz, naming the instant, but not hour windows', async () => {
    const params = {
      device: 'pump-1',
      from: '2026-10-20T00:00:00Z',
      to: '2026-10-30T00:00:00Z',
      tz: 'Europe/Berlin',
    };
    const days = await get(`/v1/query/windows?${qs({ ...params, windowMs: DAY })}`);
    expect(days.statusCode).toBe(400);
    expect(errorMessage(days)).toContain('2026-10-25T01:00:00.000Z');
    const hours = await get(`/v1/query/windows?${qs({ ...params, windowMs: HOUR })}`);
    expect(hours.statusCode).toBe(200);
  });

  it('refuses a time zone that does not exist', async () => {
    const response = await get(
      `/v1/query/windows?${qs({ device: 'pump-1', from: NOW - DAY, to: NOW, windowMs: HOUR, tz: 'Mars/Olympus' })}`,
    );
    expect(response.statusCode).toBe(400);
    expect(errorMessage(response)).toContain('Mars/Olympus');
  });
});

describe('the fleet by prefix', () => {
  it('answers readings and windows of every stored device with the prefix, as if each had been named', async () => {
    const byPrefix = await get(`/v1/query/readings?${qs({ prefix: 'boiler-', from: NOW - DAY, to: NOW })}`);
    const named = await get(`/v1/query/readings?${qs({ device: ['boiler-1', 'boiler-2'], from: NOW - DAY, to: NOW })}`);
    expect(byPrefix.statusCode).toBe(200);
    expect(byPrefix.json()).toEqual(named.json());
    const windows = { from: NOW - DAY, to: NOW, windowMs: HOUR, aggregate: 'sum' };
    const fleet = await get(`/v1/query/windows?${qs({ ...windows, prefix: 'b' })}`);
    expect(fleet.json()).toEqual(
      (await get(`/v1/query/windows?${qs({ ...windows, device: ['boiler-1', 'boiler-2'] })}`)).json(),
    );
  });

  it("keeps to the token's scope, and answers no items for a prefix no device has", async () => {
    const token = await world.operators.token('read:device:boiler-2');
    const response = await get(`/v1/query/readings?${qs({ prefix: 'boiler', from: NOW - DAY, to: NOW })}`, {
      authorization: `Bearer ${token}`,
    });
    expect(new Set(response.json().items.map((p: { device: string }) => p.device))).toEqual(new Set(['boiler-2']));
    const none = await get(`/v1/query/readings?${qs({ prefix: 'nothing-', from: NOW - DAY, to: NOW })}`);
    expect(none.json()).toEqual({ from: NOW - DAY, to: NOW, items: [] });
  });

  it('needs exactly one of device and prefix', async () => {
    const both = await get(`/v1/query/readings?${qs({ device: 'boiler-1', prefix: 'b', from: NOW - DAY, to: NOW })}`);
    const neither = await get(`/v1/query/readings?${qs({ from: NOW - DAY, to: NOW })}`);
    expect([both.statusCode, neither.statusCode]).toEqual([400, 400]);
    expect(errorMessage(neither)).toBe('device or prefix is required');
  });
});

describe('windows across devices (group=fleet)', () => {
  const boilers = () =>
    pointsOf(recent.filter((r) => r.device !== 'pump-1')).map((p) => ({ ...p, device: 'boiler-*' }));

  it.each(['mean', 'min', 'max', 'sum', 'count'] as const)(
    'answers the %s of every device with the prefix as one series per metric',
    async (aggregate) => {
      const params = { prefix: 'boiler-', from: NOW - DAY, to: NOW, windowMs: 10 * MINUTE, aggregate, group: 'fleet' };
      const response = await get(`/v1/query/windows?${qs(params)}`);
      expect(response.statusCode).toBe(200);
      const expected = expectedWindows(boilers(), 10 * MINUTE, aggregate).sort((a, b) =>
        a.metric === b.metric ? a.ts - b.ts : a.metric < b.metric ? -1 : 1,
      );
      expect(response.json().items).toEqual(
        expected.map((w) => ({ ...w, value: expect.closeTo(w.value, 9), coverage: 1 })),
      );
    },
  );

  it('pages the fleet series with the cursor, and refuses last across devices', async () => {
    const params = {
      prefix: 'boiler-',
      from: NOW - DAY,
      to: NOW,
      windowMs: 5 * MINUTE,
      aggregate: 'max',
      group: 'fleet',
    };
    const whole = (await get(`/v1/query/windows?${qs(params)}`)).json().items;
    const { items, sizes } = await allPages('/v1/query/windows', { ...params, limit: 2 });
    expect(items).toEqual(whole);
    expect(sizes.length).toBeGreaterThan(2);
    const last = await get(`/v1/query/windows?${qs({ ...params, aggregate: 'last' })}`);
    expect(last.statusCode).toBe(400);
  });
});
