import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DAY, MINUTE, NOW, pointsOf } from './query-fixture.js';
import { allPages, get, qs, recent, useQueryRoutesWorld } from './query-routes-support.js';

useQueryRoutesWorld();

const BOILERS = { device: ['boiler-1', 'boiler-2'], from: NOW - DAY, to: NOW };
const boilerPoints = () => pointsOf(recent.filter((r) => r.device !== 'pump-1'));

function parseNdjson(body: string): unknown[] {
  return body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
}

describe('whole answers, streamed (all=true)', () => {
  it('streams every reading of the range as NDJSON, read from the store a chunk at a time, with no cursor', async () => {
    const response = await get(`/v1/query/readings?${qs({ ...BOILERS, all: 'true', limit: 5, format: 'ndjson' })}`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(response.headers['content-length']).toBeUndefined();
    expect(response.headers.link).toBeUndefined();
    expect(parseNdjson(response.body)).toEqual(boilerPoints());
  });

  it('streams CSV with one header row, the same records as the pages together', async () => {
    const whole = await get(`/v1/query/readings?${qs({ ...BOILERS, all: 'true', limit: 4 })}`, { accept: 'text/csv' });
    const onePage = await get(`/v1/query/readings?${qs({ ...BOILERS, limit: 1000, format: 'csv' })}`);
    expect(whole.body).toBe(onePage.body);
    expect(whole.body.split('\r\n')[0]).toBe('device,metric,ts,value');
  });

  it("streams today's JSON shape, and windows with their coverage, from a cursor on", async () => {
    const windows = { ...BOILERS, windowMs: 4 * MINUTE, aggregate: 'max' };
    const paged = await allPages('/v1/query/windows', { ...windows, limit: 3 });
    const first = (await get(`/v1/query/windows?${qs({ ...windows, limit: 3 })}`)).json();
    const rest = await get(`/v1/query/windows?${qs({ ...windows, limit: 2, all: 'true', cursor: first.nextCursor })}`);
    expect(rest.json()).toEqual({
      from: NOW - DAY,
      to: NOW,
      windowMs: 4 * MINUTE,
      aggregate: 'max',
      items: paged.items.slice(3),
    });
  });

  it('writes the compact shape with device and metric once per series', async () => {
    const response = await get(`/v1/query/readings?${qs({ ...BOILERS, all: 'true', limit: 7, format: 'compact' })}`);
    const body = response.json() as {
      columns: string[];
      series: { device: string; metric: string; points: [number, number][] }[];
    };
    expect(body.columns).toEqual(['ts', 'value']);
    expect(body.series.map((s) => `${s.device}/${s.metric}`)).toEqual([
      'boiler-1/pressure',
      'boiler-1/temperature',
      'boiler-2/temperature',
    ]);
    const items = body.series.flatMap((s) =>
      s.points.map(([ts, value]) => ({ device: s.device, metric: s.metric, ts, value })),
    );
    expect(items).toEqual(boilerPoints());
    expect(response.body.length).toBeLessThan(JSON.stringify(boilerPoints()).length / 2);
  });
});

describe('pages in the new formats, and gzip', () => {
  it('answers a page as compact JSON with its nextCursor, and as NDJSON with the cursor in the Link header', async () => {
    const compact = await get(`/v1/query/readings?${qs({ ...BOILERS, limit: 2, format: 'compact' })}`);
    expect(compact.json()).toMatchObject({ from: NOW - DAY, to: NOW, nextCursor: expect.any(String) });
    const ndjson = await get(`/v1/query/readings?${qs({ ...BOILERS, limit: 2 })}`, { accept: 'application/x-ndjson' });
    expect(parseNdjson(ndjson.body)).toEqual(boilerPoints().slice(0, 2));
    expect(ndjson.headers.link).toContain('cursor=');
  });

  it('gzips paged and streamed answers when asked, with an ETag of their own', async () => {
    const url = `/v1/query/readings?${qs(BOILERS)}`;
    const plain = await get(url);
    const gzipped = await get(url, { 'accept-encoding': 'gzip, deflate' });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzipped.rawPayload).toString('utf8')).toBe(plain.body);
    expect(gzipped.headers.etag).not.toBe(plain.headers.etag);
    expect(String(gzipped.headers.vary)).toContain('Accept-Encoding');
    const refused = await get(url, { 'accept-encoding': 'gzip;q=0' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    const streamed = await get(`${url}&all=true&format=ndjson`, { 'accept-encoding': 'gzip' });
    expect(streamed.headers['content-encoding']).toBe('gzip');
    expect(parseNdjson(gunzipSync(streamed.rawPayload).toString('utf8'))).toEqual(boilerPoints());
  });
});
