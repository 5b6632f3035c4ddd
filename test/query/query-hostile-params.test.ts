import { describe, expect, it } from 'vitest';
import { DAY, NOW } from './query-fixture.js';
import { get, qs, useQueryRoutesWorld } from './query-routes-support.js';

useQueryRoutesWorld();

/** Values a careless or hostile client may send for any parameter. */
const HOSTILE = [
  '',
  ' ',
  'now-abc',
  'now-99999999999y',
  '1e400',
  '-1',
  'NaN',
  '%00',
  '\u0000',
  'x'.repeat(5000),
  '[]',
  '{}',
];

const ENDPOINTS: ReadonlyArray<[string, Record<string, string | number>]> = [
  ['/v1/query/readings', { device: 'boiler-1', from: NOW - DAY, to: NOW }],
  ['/v1/query/windows', { device: 'boiler-1', from: NOW - DAY, to: NOW, window: '1h', aggregate: 'mean' }],
  ['/v1/query/latest', { prefix: 'boiler' }],
  ['/v1/query/series', { prefix: 'boiler' }],
];

describe('the query API answers hostile parameters as the client fault they are', () => {
  it('refuses a number too large for a double, which the schema check lets through as Infinity', async () => {
    const response = await get(
      `/v1/query/readings?${qs({ device: 'boiler-1', from: NOW - DAY, to: NOW, limit: '1e400' })}`,
    );
    expect(response.statusCode).toBe(400);
    expect((response.json() as { error: { code: string; message: string } }).error).toMatchObject({
      code: 'ERR_QUERY_INVALID',
      message: 'query parameter out of range: limit',
    });
  });

  it.each(ENDPOINTS)('%s never answers 5xx, whatever one parameter holds', async (path, base) => {
    const names = [...Object.keys(base), 'tz', 'format', 'all', 'limit', 'cursor', 'group', 'metric'];
    for (const name of names) {
      for (const value of HOSTILE) {
        const response = await get(`${path}?${qs({ ...base, [name]: value })}`);
        expect(response.statusCode, `${path} ${name}=${JSON.stringify(value.slice(0, 20))}`).toBeLessThan(500);
      }
    }
  });
});
