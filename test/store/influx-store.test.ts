import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TelemetryError } from '../../src/errors.js';
import type { Reading } from '../../src/protocol/message.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import { escapeKey, escapeMeasurement, toLine, toLineProtocol } from '../../src/store/line-protocol.js';
import { type InfluxDbServer, startInfluxDb } from '../support/influxdb-server.js';
import { describeStoreContract } from './store-contract.js';
import { AROUND_BASE, BASE, pointsOf, RUN, readingsQuery, uniqueDevice } from './store-fixtures.js';

/** Awaits `promise`, expecting a TelemetryError with `code`, and returns it. */
async function rejection(promise: Promise<unknown>, code: string): Promise<TelemetryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TelemetryError);
  expect((error as TelemetryError).code).toBe(code);
  return error as TelemetryError;
}

/** A real HTTP server on 127.0.0.1 that answers every request the same way (or never, for `status: 0`). */
async function fixedAnswerServer(status: number, headers: Record<string, string> = {}) {
  let requests = 0;
  let last: { url: string | undefined; headers: Record<string, unknown> } | undefined;
  const server: Server = createServer((request, response) => {
    requests += 1;
    last = { url: request.url, headers: { ...request.headers } };
    request.resume();
    if (status === 0) return;
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify({ code: 'too many requests', message: 'slow down' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    last: () => last,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('line protocol', () => {
  it.each([
    ['a space', 'a b', 'a\\ b'],
    ['a comma', 'a,b', 'a\\,b'],
    ['an equals sign', 'a=b', 'a\\=b'],
    ['a backslash', 'a\\b', 'a\\\\b'],
    ['a backslash before a space', 'a\\ b', 'a\\\\\\ b'],
    ['a trailing backslash', 'a\\', 'a\\\\'],
    ['double and single quotes', `a"b'c`, `a"b'c`],
    ['non-ASCII letters', 'température-ü', 'température-ü'],
  ])('escapes a tag value or field key with %s', (_case, name, escaped) => {
    expect(escapeKey(name)).toBe(escaped);
  });

  it('escapes commas, spaces and backslashes in a measurement but not equals signs', () => {
    expect(escapeMeasurement('a b,c=d\\')).toBe('a\\ b\\,c=d\\\\');
  });

  it.each([
    ['a newline', 'a\nb'],
    ['a carriage return', 'a\rb'],
    ['a tab', 'a\tb'],
    ['a NUL', 'a\u0000b'],
    ['nothing at all', ''],
  ])('rejects a name with %s as ERR_STORE_REJECTED', (_case, name) => {
    expect(() => toLine({ device: name, ts: 1, values: { temp: 1 } })).toThrow(TelemetryError);
    expect(() => toLine({ device: 'd', ts: 1, values: { [name]: 1 } })).toThrow(
      expect.objectContaining({ code: 'ERR_STORE_REJECTED' }),
    );
  });

  it('writes one line per reading with the device tag, float fields and a millisecond timestamp', () => {
    const readings: Reading[] = [
      { device: 'pump 1,x=y', ts: 1_700_000_000_123, values: { temp: 21, 'flow rate': 0.30000000000000004 } },
      { device: 'pump-2', ts: 1_700_000_000_124, values: { big: 1e21, tiny: 5e-324, neg: -1.5, zero: -0 } },
    ];
    expect(toLineProtocol(readings)).toBe(
      'telemetry,device=pump\\ 1\\,x\\=y temp=21,flow\\ rate=0.30000000000000004 1700000000123\n' +
        'telemetry,device=pump-2 big=1e+21,tiny=5e-324,neg=-1.5,zero=-0 1700000000124',
    );
  });

  it('cannot be made to inject a second line or field through a name', () => {
    const line = toLine({ device: 'd\\', ts: 5, values: { 'x\\ y=1 2\\,z': 3 } });
    expect(line).toBe('telemetry,device=d\\\\ x\\\\\\ y\\=1\\ 2\\\\\\,z=3 5');
  });

  it('rejects values that are not finite and times that are not integers', () => {
    expect(() => toLine({ device: 'd', ts: 1, values: { temp: Number.NaN } })).toThrow(TelemetryError);
    expect(() => toLine({ device: 'd', ts: 1, values: { temp: Number.POSITIVE_INFINITY } })).toThrow(TelemetryError);
    expect(() => toLine({ device: 'd', ts: 1.5, values: { temp: 1 } })).toThrow(TelemetryError);
  });

  it('refuses double quotes in names for VictoriaMetrics only', () => {
    const quoted: Reading[] = [{ device: 'a"b', ts: 1, values: { 'c"d': 1 } }];
    expect(toLineProtocol(quoted)).toBe('telemetry,device=a"b c"d=1 1');
    expect(() => toLineProtocol(quoted, 'victoriametrics')).toThrow(
      expect.objectContaining({ code: 'ERR_STORE_REJECTED' }),
    );
  });

  it('writes nothing for a reading without values', () => {
    expect(toLineProtocol([{ device: 'd', ts: 1, values: {} }])).toBe('');
  });
});

describe('InfluxStore against a store that is down or refuses', () => {
  const options = { api: 'v1', database: 'telemetry', timeoutMs: 1_000, queryMode: 'influxql' } as const;
  const reading: Reading = { device: 'pump-1', ts: BASE, values: { temp: 1 } };

  it.each([
    [undefined, undefined],
    ['none', undefined],
    ['gzip', 'gzip'],
  ] as const)(
    'with compression %s, sends a 100-reading write with content-encoding %s',
    async (compression, encoding) => {
      const server = await fixedAnswerServer(204);
      try {
        const store = new InfluxStore({ ...options, url: server.url, ...(compression ? { compression } : {}) });
        const readings = Array.from({ length: 100 }, (_, i) => ({ ...reading, ts: BASE + i }));
        await store.write(readings);
        expect(server.last()?.headers['content-encoding']).toBe(encoding);
      } finally {
        await server.close();
      }
    },
  );

  it('rejects a write with a retryable ERR_STORE_UNAVAILABLE when nothing listens', async () => {
    const closed = await fixedAnswerServer(204);
    await closed.close();
    const store = new InfluxStore({ ...options, url: closed.url });
    const error = await rejection(store.write([reading]), 'ERR_STORE_UNAVAILABLE');
    expect(error.canRetry()).toBe(true);
    await rejection(store.ping(), 'ERR_STORE_UNAVAILABLE');
  });

  it.each([
    [429, { 'retry-after': '7' }, 7, 1],
    [503, { 'retry-after': '7' }, 7, 1],
    [503, {}, undefined, 3],
    [500, {}, undefined, 3],
  ])(
    'passes on Retry-After from an HTTP %i as ERR_STORE_UNAVAILABLE, after retrying what fits in the budget',
    async (status, headers, retryAfter, requests) => {
      const server = await fixedAnswerServer(status, headers);
      try {
        const store = new InfluxStore({ ...options, url: server.url });
        const error = await rejection(store.write([reading]), 'ERR_STORE_UNAVAILABLE');
        expect(error.retryAfter()).toBe(retryAfter);
        expect(server.requests()).toBe(requests);
      } finally {
        await server.close();
      }
    },
  );

  it('retries a write answered 503 with Retry-After: 1 after a second, and succeeds', async () => {
    const answers = [503];
    const seen: number[] = [];
    const server: Server = createServer((request, response) => {
      seen.push(Date.now());
      request.resume();
      const status = answers.shift() ?? 204;
      response.writeHead(status, status === 503 ? { 'retry-after': '1' } : {});
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const store = new InfluxStore({ ...options, url: `http://127.0.0.1:${port}`, maxRetries: 1 });
      await store.write([reading]);
      expect(seen).toHaveLength(2);
      expect((seen[1] ?? 0) - (seen[0] ?? 0)).toBeGreaterThanOrEqual(990);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it.each([400, 413, 422])('rejects a write answered with HTTP %i as ERR_STORE_REJECTED', async (status) => {
    const server = await fixedAnswerServer(status);
    try {
      const error = await rejection(
        new InfluxStore({ ...options, url: server.url }).write([reading]),
        'ERR_STORE_REJECTED',
      );
      expect(error.canRetry()).toBe(false);
    } finally {
      await server.close();
    }
  });

  it.each([401, 403, 404])(
    'fails a write answered with HTTP %i as a retryable ERR_STORE_UNAVAILABLE, since the node is misconfigured, not the readings bad',
    async (status) => {
      const server = await fixedAnswerServer(status);
      try {
        const error = await rejection(
          new InfluxStore({ ...options, url: server.url }).write([reading]),
          'ERR_STORE_UNAVAILABLE',
        );
        expect(error.canRetry()).toBe(true);
        expect(server.requests()).toBe(1);
      } finally {
        await server.close();
      }
    },
  );

  it('rejects a write the server does not answer within timeoutMs as ERR_STORE_UNAVAILABLE', async () => {
    const server = await fixedAnswerServer(0);
    try {
      const started = Date.now();
      const store = new InfluxStore({ ...options, url: server.url, timeoutMs: 200 });
      await rejection(store.write([reading]), 'ERR_STORE_UNAVAILABLE');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await server.close();
    }
  });

  it.each([
    [{ api: 'v1', database: 'db 1', username: 'u', password: 'p' }, '/write?db=db+1&precision=ms', 'Basic dTpw'],
    [
      { api: 'v2', org: 'o&x', bucket: 'b', token: 't0k' },
      '/api/v2/write?org=o%26x&bucket=b&precision=ms',
      'Token t0k',
    ],
  ] as const)(
    'posts a large batch to the write endpoint of %o, gzipped when asked',
    async (api, path, authorization) => {
      const server = await fixedAnswerServer(204);
      try {
        const store = new InfluxStore({
          ...api,
          url: server.url,
          timeoutMs: 1_000,
          queryMode: 'influxql',
          compression: 'gzip',
        });
        const readings = Array.from({ length: 50 }, (_, i) => ({
          device: 'pump-1',
          ts: BASE + i,
          values: { temp: i },
        }));
        await store.write(readings);
        expect(server.last()).toEqual({
          url: path,
          headers: expect.objectContaining({ authorization, 'content-encoding': 'gzip' }),
        });
      } finally {
        await server.close();
      }
    },
  );

  it('sends nothing when a name holds a newline', async () => {
    const server = await fixedAnswerServer(204);
    try {
      const store = new InfluxStore({ ...options, url: server.url });
      await rejection(store.write([reading, { ...reading, device: 'evil\ntelemetry' }]), 'ERR_STORE_REJECTED');
      expect(server.requests()).toBe(0);
    } finally {
      await server.close();
    }
  });
});

describe('InfluxStore on InfluxDB 1.6.7 (v1 API, InfluxQL)', () => {
  let server: InfluxDbServer;
  const open = (database = server.database) =>
    new InfluxStore({ url: server.url, api: 'v1', database, timeoutMs: 5_000, queryMode: 'influxql' });

  beforeAll(async () => {
    server = await startInfluxDb();
  });
  afterAll(async () => {
    await server?.stop();
  });

  describeStoreContract('InfluxDB 1.6.7', async () => ({ store: open() }));

  it('keeps floats exactly, whole numbers included', async () => {
    const device = uniqueDevice('floats');
    const values = { a: 21, b: 0.30000000000000004, c: 1e21, d: 5e-324, e: -1.7976931348623157e308, f: 1 / 3, g: -0 };
    await open().write([{ device, ts: BASE, values }]);
    const page = await open().queryReadings({ devices: [device], range: AROUND_BASE, limit: 100 });
    expect(Object.fromEntries(page.items.map((p) => [p.metric, p.value]))).toEqual(values);
  });

  it('stores names with quotes and non-ASCII letters as they are', async () => {
    const device = `${uniqueDevice('names')}-"q'ü`;
    await open().write([{ device, ts: BASE, values: { 'temp "x" é': 4 } }]);
    const page = await open().queryReadings({ devices: [device], range: AROUND_BASE, limit: 10 });
    expect(page.items).toEqual([{ device, metric: 'temp "x" é', ts: BASE, value: 4 }]);
    expect(await open().queryLatest({ devicePrefix: device })).toEqual(page.items);
  });

  it('keeps a backslash in a name doubled, because InfluxDB 1.x does not unescape it', async () => {
    const device = `${uniqueDevice('backslash')}\\x`;
    await open().write([{ device, ts: BASE, values: { t: 1 } }]);
    const latest = await open().queryLatest({ devicePrefix: device.slice(0, -2) });
    expect(latest.map((p) => p.device)).toEqual([device.replace('\\', '\\\\')]);
  });

  it('rejects a write that conflicts with a stored field type as ERR_STORE_REJECTED', async () => {
    const device = uniqueDevice('conflict');
    const body = `telemetry,device=${device} label="text" ${BASE}`;
    const seeded = await fetch(`${server.url}/write?db=${server.database}&precision=ms`, { method: 'POST', body });
    expect(seeded.status).toBe(204);
    await rejection(open().write([{ device, ts: BASE + 1, values: { label: 1 } }]), 'ERR_STORE_REJECTED');
  });

  it('fails a write to a missing database as a retryable ERR_STORE_UNAVAILABLE, since the node is misconfigured, and the retry succeeds once it exists', async () => {
    const database = `created_later_${RUN}`;
    const readings: Reading[] = [{ device: uniqueDevice('misconfigured'), ts: BASE, values: { t: 1 } }];
    const error = await rejection(open(database).write(readings), 'ERR_STORE_UNAVAILABLE');
    expect(error.canRetry()).toBe(true);
    const created = await fetch(`${server.url}/query`, {
      method: 'POST',
      body: new URLSearchParams({ q: `CREATE DATABASE "${database}"` }),
    });
    expect(created.status).toBe(200);
    await open(database).write(readings);
    const page = await open(database).queryReadings(readingsQuery(readings.map((r) => r.device)));
    expect(page.items).toEqual(pointsOf(readings));
  });

  it('reports the store down while it is stopped and works again once it is back', async () => {
    const device = uniqueDevice('outage');
    await server.halt();
    try {
      const error = await rejection(open().write([{ device, ts: BASE, values: { t: 1 } }]), 'ERR_STORE_UNAVAILABLE');
      expect(error.canRetry()).toBe(true);
      await rejection(open().ping(), 'ERR_STORE_UNAVAILABLE');
    } finally {
      await server.resume();
    }
    await open().ping();
    await open().write([{ device, ts: BASE, values: { t: 1 } }]);
    const page = await open().queryReadings({ devices: [device], range: AROUND_BASE, limit: 10 });
    expect(page.items).toEqual([{ device, metric: 't', ts: BASE, value: 1 }]);
  });
});
