import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
import { TelemetryError } from '../../src/errors.js';
import type { Reading } from '../../src/protocol/message.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import { openStore } from '../../src/store/open-store.js';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';
import { VictoriaMetricsStore } from '../../src/store/victoria-metrics-store.js';
import { type InfluxDbServer, startInfluxDb } from '../support/influxdb-server.js';
import { startVictoriaMetrics, type VictoriaMetricsServer } from '../support/victoria-metrics-server.js';
import { AROUND_BASE, BASE, readingsQuery, uniqueDevice } from './store-fixtures.js';

interface SeenRequest {
  readonly method: string | undefined;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** An HTTP server on 127.0.0.1 that records every request and answers it with the next status (204 when none). */
async function recordingServer(statuses: number[] = [], answer?: (url: string) => string) {
  const seen: SeenRequest[] = [];
  const server: Server = createServer((request, response) => {
    seen.push({ method: request.method, url: request.url ?? '', headers: request.headers });
    request.resume();
    const status = statuses.shift() ?? (answer === undefined ? 204 : 200);
    if (status === 0) return;
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(status === 200 && answer !== undefined ? answer(request.url ?? '') : undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const reading: Reading = { device: 'pump-1', ts: BASE, values: { temp: 1 } };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let opened: TelemetryStore[] = [];
afterEach(async () => {
  await Promise.all(opened.map((store) => store.close()));
  opened = [];
});

async function open(env: Record<string, string>): Promise<TelemetryStore> {
  const store = await openStore(parseConfig(env));
  opened.push(store);
  return store;
}

describe('openStore', () => {
  it('opens InfluxDB, VictoriaMetrics by its name and VictoriaMetrics by the old spelling', async () => {
    const url = { TELEMETRY_INFLUX_URL: 'http://127.0.0.1:1' };
    const influx = await open({ ...url, TELEMETRY_STORE: 'influxdb' });
    expect(influx).toBeInstanceOf(InfluxStore);
    expect(influx).not.toBeInstanceOf(VictoriaMetricsStore);
    expect(await open({ ...url, TELEMETRY_STORE: 'victoriametrics' })).toBeInstanceOf(VictoriaMetricsStore);
    expect(
      await open({ ...url, TELEMETRY_STORE: 'influxdb', TELEMETRY_INFLUX_QUERY: 'victoriametrics' }),
    ).toBeInstanceOf(VictoriaMetricsStore);
  });

  it('sends the InfluxDB v1 username and password as basic auth, and the retention policy, on writes and queries', async () => {
    const server = await recordingServer([204], () => JSON.stringify({ results: [{ statement_id: 0 }] }));
    try {
      const store = await open({
        TELEMETRY_STORE: 'influxdb',
        TELEMETRY_INFLUX_URL: server.url,
        TELEMETRY_INFLUX_API: 'v1',
        TELEMETRY_INFLUX_BUCKET: 'plant',
        TELEMETRY_INFLUX_USERNAME: 'ingest',
        TELEMETRY_INFLUX_PASSWORD: 'pa:ss wörd',
        TELEMETRY_INFLUX_RETENTION_POLICY: 'four_weeks',
      });
      await store.write([reading]);
      await store.queryReadings({ devices: ['pump-1'], range: AROUND_BASE, limit: 10 });
      expect(server.seen.map((r) => r.method)).toEqual(['POST', 'GET']);
      for (const request of server.seen) {
        expect(request.headers.authorization).toBe(basic('ingest', 'pa:ss wörd'));
        const params = new URL(request.url, server.url).searchParams;
        expect({ db: params.get('db'), rp: params.get('rp'), u: params.get('u'), p: params.get('p') }).toEqual({
          db: 'plant',
          rp: 'four_weeks',
          u: null,
          p: null,
        });
      }
      expect(new URL(server.seen[0]?.url ?? '', server.url).pathname).toBe('/write');
      expect(new URL(server.seen[1]?.url ?? '', server.url).pathname).toBe('/query');
    } finally {
      await server.close();
    }
  });

  it('sends a token, and no basic auth, when TELEMETRY_INFLUX_TOKEN is set', async () => {
    const server = await recordingServer();
    try {
      const store = await open({
        TELEMETRY_STORE: 'victoriametrics',
        TELEMETRY_INFLUX_URL: server.url,
        TELEMETRY_INFLUX_TOKEN: 't0k',
      });
      await store.write([reading]);
      expect(server.seen[0]?.headers.authorization).toBe('Token t0k');
      expect(server.seen[0]?.url).toMatch(/^\/api\/v2\/write\?/);
    } finally {
      await server.close();
    }
  });

  it.each([
    [{}, 3],
    [{ TELEMETRY_STORE_WRITE_RETRIES: '0' }, 1],
    [{ TELEMETRY_STORE_WRITE_RETRIES: '1' }, 2],
    [{ TELEMETRY_STORE_RETRY_BUDGET_MS: '0' }, 1],
  ])('with %o, sends a write answered 503 %i times', async (env, requests) => {
    const server = await recordingServer([503, 503, 503, 503]);
    try {
      const store = await open({ TELEMETRY_STORE: 'influxdb', TELEMETRY_INFLUX_URL: server.url, ...env });
      await expect(store.write([reading])).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      expect(server.seen).toHaveLength(requests);
    } finally {
      await server.close();
    }
  });

  it('gives up on a request after TELEMETRY_STORE_TIMEOUT_MS', async () => {
    const server = await recordingServer([0, 0, 0]);
    try {
      const store = await open({
        TELEMETRY_STORE: 'influxdb',
        TELEMETRY_INFLUX_URL: server.url,
        TELEMETRY_STORE_TIMEOUT_MS: '150',
        TELEMETRY_STORE_WRITE_RETRIES: '0',
      });
      const started = Date.now();
      const error = await store.write([reading]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TelemetryError);
      expect((error as TelemetryError).message).toBe('store did not answer in time');
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await server.close();
    }
  });
});

describe('openStore on InfluxDB 1.6.7 with authentication on', () => {
  const admin = { username: 'admin', password: 'admin-pw' };
  let server: InfluxDbServer;

  const influxql = async (q: string, auth: Record<string, string> = server.adminHeaders) => {
    const body = new URLSearchParams({ q, db: server.database, epoch: 'ms' });
    const response = await fetch(`${server.url}/query`, { method: 'POST', body, headers: auth });
    expect(response.status).toBe(200);
    return (await response.json()) as { results: { series?: { values: unknown[][] }[]; error?: string }[] };
  };

  const settings = (overrides: Record<string, string> = {}) => ({
    TELEMETRY_STORE: 'influxdb',
    TELEMETRY_INFLUX_URL: server.url,
    TELEMETRY_INFLUX_API: 'v1',
    TELEMETRY_INFLUX_BUCKET: server.database,
    TELEMETRY_INFLUX_USERNAME: 'writer',
    TELEMETRY_INFLUX_PASSWORD: 'writer-pw',
    TELEMETRY_INFLUX_RETENTION_POLICY: 'four_weeks',
    ...overrides,
  });

  beforeAll(async () => {
    server = await startInfluxDb('telemetry', admin);
    await influxql(`CREATE USER "writer" WITH PASSWORD 'writer-pw'`);
    await influxql(`GRANT ALL ON "${server.database}" TO "writer"`);
    // Not the default: what the node writes lands here only when it names it.
    await influxql(`CREATE RETENTION POLICY "four_weeks" ON "${server.database}" DURATION 4w REPLICATION 1`);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('writes with the configured user into the configured retention policy, and reads it back from there', async () => {
    const device = uniqueDevice('rp');
    const store = await open(settings());
    await store.ping();
    await store.write([{ device, ts: BASE, values: { temp: 21.5 } }]);

    const inPolicy = await influxql(`SELECT "temp" FROM "four_weeks"."telemetry" WHERE "device" = '${device}'`);
    expect(inPolicy.results[0]?.series?.[0]?.values).toEqual([[BASE, 21.5]]);
    const inDefault = await influxql(`SELECT "temp" FROM "autogen"."telemetry" WHERE "device" = '${device}'`);
    expect(inDefault.results[0]?.series).toBeUndefined();

    expect((await store.queryReadings(readingsQuery([device]))).items).toEqual([
      { device, metric: 'temp', ts: BASE, value: 21.5 },
    ]);
    const elsewhere = await open(settings({ TELEMETRY_INFLUX_RETENTION_POLICY: '' }));
    expect((await elsewhere.queryReadings(readingsQuery([device]))).items).toEqual([]);
  });

  it('is refused, retryably, with a wrong password or none, and the server demands auth', async () => {
    const readings: Reading[] = [{ device: uniqueDevice('denied'), ts: BASE, values: { temp: 1 } }];
    for (const overrides of [
      { TELEMETRY_INFLUX_USERNAME: 'writer', TELEMETRY_INFLUX_PASSWORD: 'wrong' },
      { TELEMETRY_INFLUX_USERNAME: '', TELEMETRY_INFLUX_PASSWORD: '' },
    ]) {
      const store = await open(settings(overrides));
      const error = await store.write(readings).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TelemetryError);
      expect((error as TelemetryError).code).toBe('ERR_STORE_UNAVAILABLE');
      expect((error as TelemetryError).message).toMatch(/HTTP 401/);
    }
  });
});

describe('openStore on VictoriaMetrics', () => {
  let vm: VictoriaMetricsServer;

  beforeAll(async () => {
    vm = await startVictoriaMetrics();
  });
  afterAll(async () => {
    await vm?.stop();
  });

  it.each([
    ['TELEMETRY_STORE=victoriametrics', { TELEMETRY_STORE: 'victoriametrics' }],
    ['the old spelling', { TELEMETRY_STORE: 'influxdb', TELEMETRY_INFLUX_QUERY: 'victoriametrics' }],
  ])('writes and reads back through %s', async (_spelling, env) => {
    const device = uniqueDevice('vm');
    const store = await open({ ...env, TELEMETRY_INFLUX_URL: vm.url });
    await store.ping();
    await store.write([{ device, ts: BASE, values: { temp: 4.5 } }]);
    await vm.flush();
    expect((await store.queryReadings(readingsQuery([device]))).items).toEqual([
      { device, metric: 'temp', ts: BASE, value: 4.5 },
    ]);
  });
});
