import { createServer, type Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Reading } from '../../src/protocol/message.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import { rejection } from './influx-store-support.js';
import { BASE } from './store-fixtures.js';

/** A real HTTP server on 127.0.0.1 (or `host`) that answers every request the same way (or never, for `status: 0`). */
async function fixedAnswerServer(status: number, headers: Record<string, string> = {}, host = '127.0.0.1') {
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
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    requests: () => requests,
    last: () => last,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

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

  it.each([200, 500])(
    'rejects a write whose HTTP %i answer starts but never ends within timeoutMs as ERR_STORE_UNAVAILABLE',
    async (status) => {
      // Headers and two bytes of a ten-byte body, then nothing: the deadline covers the answer to its end.
      const server = createServer((request, response) => {
        request.resume();
        response.writeHead(status, { 'content-type': 'text/plain', 'content-length': '10' });
        response.write('ok');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      try {
        const started = Date.now();
        const store = new InfluxStore({ ...options, url: `http://127.0.0.1:${port}`, timeoutMs: 200, maxRetries: 0 });
        await rejection(store.write([reading]), 'ERR_STORE_UNAVAILABLE');
        expect(Date.now() - started).toBeLessThan(5_000);
        await store.close();
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  );

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

  it('writes to a store whose URL is an IPv6 literal', async () => {
    const server = await fixedAnswerServer(204, {}, '::1');
    try {
      const store = new InfluxStore({ ...options, url: server.url, timeoutMs: 1_000 });
      await store.write([reading]);
      expect(server.requests()).toBe(1);
      await store.close();
    } finally {
      await server.close();
    }
  });

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
