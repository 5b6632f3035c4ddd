import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { IngestMetrics } from '../../ingest/ingest-metrics.js';
import { RejectionSummary } from '../../ingest/rejection-summary.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { DeviceKeys, signMessage, TelemetryError } from '../../src/index.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';
import { HeldStore } from '../support/held-store.js';
import { pollUntil } from '../support/poll-until.js';

/** One JSON log line as pino writes it. */
type LogLine = Record<string, unknown> & { msg: string; level: number };

let alice: TestDevice;
let store: HeldStore | undefined;
let node: IngestNode | undefined;
let lines: LogLine[] = [];
let seq = 0;

/** A pino logger at debug that keeps every line, parsed. */
function capturingLogger() {
  return pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split('\n')) if (text !== '') lines.push(JSON.parse(text) as LogLine);
        done();
      },
    }),
  );
}

async function build(env: Record<string, string> = {}, rejectionSummaryMs?: number): Promise<IngestNode> {
  store = new HeldStore(await DuckDbStore.open({ path: ':memory:' }));
  node = await buildIngest({
    config: parseConfig({ TELEMETRY_BATCH_MAX_WAIT_MS: '1', ...env }),
    store,
    keys: new DeviceKeys({ registry: () => registryOf(alice) }),
    logger: capturingLogger(),
    ...(rejectionSummaryMs === undefined ? {} : { rejectionSummaryMs }),
  });
  return node;
}

async function post(body: string, contentType = 'application/jose'): Promise<number> {
  const response = await (node as IngestNode).app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { 'content-type': contentType },
    payload: body,
  });
  return response.statusCode;
}

async function message(ts = Date.now() - 1000): Promise<string> {
  return signMessage(alice.signer, ++seq, [{ ts, values: { t: 20.5 } }]);
}

const logged = (msg: string) => lines.filter((line) => line.msg === msg);

beforeAll(async () => {
  alice = await makeDevice('alice');
});

afterEach(async () => {
  store?.heal();
  store?.release();
  await node?.close(1000);
  await store?.close();
  node = undefined;
  store = undefined;
  lines = [];
});

describe('operator logs', () => {
  it('say "store unreachable" once with the error while writes fail, and "store reachable again" once after', async () => {
    await build();
    const down = new TelemetryError('ERR_STORE_UNAVAILABLE', 'the store did not answer', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8086'), { code: 'ECONNREFUSED' }),
    });
    store?.fail(down);
    expect([await post(await message()), await post(await message()), await post(await message())]).toEqual([
      503, 503, 503,
    ]);
    expect(logged('store unreachable')).toHaveLength(1);
    expect(logged('store unreachable')[0]).toMatchObject({
      level: 40,
      store: 'embedded',
      error: { code: 'ERR_STORE_UNAVAILABLE', message: expect.stringContaining('ECONNREFUSED') },
    });
    store?.heal();
    expect([await post(await message()), await post(await message())]).toEqual([200, 200]);
    expect(logged('store reachable again')).toHaveLength(1);
    expect(logged('store reachable again')[0]).toMatchObject({ level: 30, store: 'embedded' });
  });

  it('see the store go away and come back through readiness pings too, with no traffic', async () => {
    const built = await build();
    store?.fail(new TelemetryError('ERR_STORE_UNAVAILABLE', 'the store did not answer'));
    expect((await built.app.inject({ url: '/readyz' })).statusCode).toBe(503);
    expect((await built.app.inject({ url: '/readyz' })).statusCode).toBe(503);
    expect(logged('store unreachable')).toHaveLength(1);
    store?.heal();
    expect((await built.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    expect(logged('store reachable again')).toHaveLength(1);
  });

  it('say "backpressure on" once when messages are refused for the in-flight cap, and "backpressure off" once after', async () => {
    await build({ TELEMETRY_BATCH_MAX_READINGS: '1', TELEMETRY_MAX_INFLIGHT_READINGS: '2' });
    store?.hold();
    const held = [post(await message()), post(await message())];
    await pollUntil(async () => (store?.writesStarted ?? 0) >= 2, 'two writes held');
    expect([await post(await message()), await post(await message())]).toEqual([503, 503]);
    expect(logged('backpressure on: refusing messages with ERR_OVERLOADED')).toHaveLength(1);
    expect(logged('backpressure on: refusing messages with ERR_OVERLOADED')[0]).toMatchObject({ level: 40, limit: 2 });
    store?.release();
    expect(await Promise.all(held)).toEqual([200, 200]);
    expect(logged('backpressure off')).toHaveLength(1);
  });

  it('log each HTTP rejection at debug, once, with transport, code and device', async () => {
    await build();
    const tooOld = await message(Date.now() - 400 * 86_400_000);
    expect(await post(tooOld)).toBe(422);
    expect(await post(await message(), 'application/json')).toBe(415);
    const rejected = logged('http message rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({
      level: 20,
      transport: 'http',
      code: 'ERR_TIMESTAMP_OUT_OF_RANGE',
      device: 'alice',
    });
    expect(logged('http request rejected')).toEqual([
      expect.objectContaining({ transport: 'http', code: 'ERR_UNSUPPORTED_MEDIA_TYPE', status: 415 }),
    ]);
  });

  it('sum rejections up by transport and code while they occur', async () => {
    await build({}, 50);
    const tooOld = await message(Date.now() - 400 * 86_400_000);
    await post(tooOld);
    await post(tooOld);
    // Both may fall into one interval or two: together the summaries count both.
    const total = () => logged('messages rejected').reduce((sum, line) => sum + Number(line.total), 0);
    await pollUntil(async () => total() === 2, 'summaries of both rejections');
    for (const line of logged('messages rejected')) {
      expect(line).toMatchObject({ level: 30, rejected: { http: { ERR_TIMESTAMP_OUT_OF_RANGE: line.total } } });
    }
  });
});

describe('RejectionSummary', () => {
  it('logs the rejections of each interval, and nothing for an interval without any', async () => {
    const metrics = new IngestMetrics({ processMetrics: false });
    const log = capturingLogger();
    const summary = new RejectionSummary({ metrics, log, intervalMs: 60_000 });
    metrics.rejected('ERR_SIGNATURE_INVALID', { transport: 'http' });
    metrics.rejected('ERR_SIGNATURE_INVALID', { transport: 'http' });
    metrics.rejected('ERR_TOKEN_EXPIRED', { transport: 'mqtt' });
    expect(await summary.report()).toEqual({
      http: { ERR_SIGNATURE_INVALID: 2 },
      mqtt: { ERR_TOKEN_EXPIRED: 1 },
    });
    expect(await summary.report()).toBeUndefined();
    metrics.rejected('ERR_TOKEN_EXPIRED', { transport: 'mqtt' });
    expect(await summary.report()).toEqual({ mqtt: { ERR_TOKEN_EXPIRED: 1 } });
    expect(logged('messages rejected').map((line) => line.total)).toEqual([3, 1]);
    expect(logged('messages rejected')[0]).toMatchObject({ periodSeconds: 60 });
  });
});
