import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { DeviceKeys, type ErrorCode, MESSAGE_TYP, signMessage, signPayload, TelemetryError } from '../../src/index.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';
import { HeldStore } from '../support/held-store.js';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
let alice: TestDevice;
let bob: TestDevice;
let store: HeldStore;
let node: IngestNode;

async function build(env: Record<string, string> = {}): Promise<IngestNode> {
  const config = parseConfig({ TELEMETRY_BATCH_MAX_WAIT_MS: '1', ...env });
  return buildIngest({
    config,
    store,
    keys: new DeviceKeys({ registry: () => registryOf(alice, bob) }),
    now: () => NOW,
  });
}

function post(body: string, contentType = 'application/jose') {
  return node.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { 'content-type': contentType },
    payload: body,
  });
}

async function stored(device: string) {
  const page = await store.queryReadings({
    devices: [device],
    range: { start: NOW - 86_400_000, end: NOW + 1 },
    limit: 1000,
  });
  return page.items;
}

beforeAll(async () => {
  alice = await makeDevice(`alice-${process.pid}`, 'ES256');
  bob = await makeDevice(`bob-${process.pid}`, 'EdDSA');
});

beforeEach(async () => {
  store = new HeldStore(await DuckDbStore.open({ path: ':memory:' }));
  node = await build();
});

afterEach(async () => {
  store.release();
  await node.close(1000);
  await store.close();
});

describe('POST /v1/messages', () => {
  it('stores the readings of a signed message and answers 200 with what was accepted', async () => {
    const jws = await signMessage(alice.signer, 5, [{ ts: NOW - 10, values: { temperature: 21.5, humidity: 40 } }]);
    const response = await post(jws);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'accepted', device: alice.id, seq: 5, readings: 1 });
    expect(await stored(alice.id)).toEqual([
      { device: alice.id, metric: 'humidity', ts: NOW - 10, value: 40 },
      { device: alice.id, metric: 'temperature', ts: NOW - 10, value: 21.5 },
    ]);
  });

  it('does not answer before the store has accepted the write', async () => {
    store.hold();
    const jws = await signMessage(alice.signer, 1, [{ ts: NOW - 10, values: { t: 1 } }]);
    let answered = false;
    const response = post(jws).then((r) => {
      answered = true;
      return r;
    });
    await until(() => store.writesStarted === 1);
    expect(answered).toBe(false);
    expect(store.writesDone).toBe(0);
    store.release();
    expect((await response).statusCode).toBe(200);
    expect(store.writesDone).toBe(1);
  });

  it('stores a reading sent twice once', async () => {
    const jws = await signMessage(alice.signer, 1, [{ ts: NOW - 10, values: { t: 1 } }]);
    expect((await post(jws)).statusCode).toBe(200);
    expect((await post(jws)).statusCode).toBe(200);
    expect(await stored(alice.id)).toHaveLength(1);
  });

  it.each<[string, () => Promise<string>, number, ErrorCode]>([
    [
      'a tampered message',
      async () => `${(await signMessage(alice.signer, 1, [{ ts: NOW, values: { t: 1 } }])).slice(0, -4)}AAAA`,
      401,
      'ERR_SIGNATURE_INVALID',
    ],
    ['garbage', async () => 'not a jws', 400, 'ERR_MESSAGE_MALFORMED'],
    [
      'alg none',
      async () => `${b64({ alg: 'none', typ: MESSAGE_TYP, kid: 'x.k1' })}.${b64({})}.`,
      401,
      'ERR_ALG_NOT_ALLOWED',
    ],
    [
      'an unknown key',
      async () =>
        signPayload(
          { ...alice.signer, kid: 'nobody.k1' },
          { v: 1, device: alice.id, seq: 1, readings: [{ ts: NOW, values: { t: 1 } }] },
        ),
      401,
      'ERR_UNKNOWN_KEY',
    ],
    [
      "another device's name",
      async () =>
        signPayload(bob.signer, { v: 1, device: alice.id, seq: 1, readings: [{ ts: NOW, values: { t: 1 } }] }),
      403,
      'ERR_DEVICE_MISMATCH',
    ],
    [
      'a schema error',
      async () => signPayload(alice.signer, { v: 1, device: alice.id, seq: 1, readings: [] }),
      422,
      'ERR_PAYLOAD_INVALID',
    ],
    [
      'a bad metric name',
      async () => signMessage(alice.signer, 1, [{ ts: NOW, values: { 'a b': 1 } }]),
      422,
      'ERR_NAME_INVALID',
    ],
    [
      'seconds for milliseconds',
      async () => signMessage(alice.signer, 1, [{ ts: NOW / 1000, values: { t: 1 } }]),
      422,
      'ERR_TIMESTAMP_UNIT',
    ],
    [
      'an old reading',
      async () => signMessage(alice.signer, 1, [{ ts: NOW - 30 * 86_400_000, values: { t: 1 } }]),
      422,
      'ERR_TIMESTAMP_OUT_OF_RANGE',
    ],
    ['duplicate JSON names', async () => signPayload(alice.signer, `{"v":1,"v":1}`), 400, 'ERR_PAYLOAD_MALFORMED'],
    ['too large a body', async () => 'a'.repeat(70_000), 413, 'ERR_MESSAGE_TOO_LARGE'],
  ])('answers %s with the documented status and code', async (_name, make, status, code) => {
    const response = await post(await make());
    expect(response.statusCode).toBe(status);
    expect(response.json()).toEqual({ error: { code, message: expect.any(String), retryable: false } });
    expect(response.headers['retry-after']).toBeUndefined();
  });

  it('answers 415 to a body that is not application/jose', async () => {
    const response = await post('{"a":1}', 'application/json');
    expect(response.statusCode).toBe(415);
    expect(response.json().error.code).toBe('ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 503 with Retry-After when the store is down, and stores the retry once it is back', async () => {
    store.fail(new TelemetryError('ERR_STORE_UNAVAILABLE', 'down', { retryAfter: 7 }));
    const jws = await signMessage(alice.signer, 1, [{ ts: NOW - 10, values: { t: 1 } }]);
    const refused = await post(jws);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('7');
    expect(refused.json().error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', retryable: true });
    expect((await node.app.inject('/readyz')).statusCode).toBe(503);
    store.heal();
    expect((await post(jws)).statusCode).toBe(200);
    expect((await node.app.inject('/readyz')).statusCode).toBe(200);
    expect(await stored(alice.id)).toHaveLength(1);
  });

  it('pushes back with 503 ERR_OVERLOADED once the in-flight cap is reached, and recovers', async () => {
    await node.close(1000);
    node = await build({ TELEMETRY_MAX_INFLIGHT_READINGS: '2', TELEMETRY_BATCH_MAX_READINGS: '2' });
    store.hold();
    const first = post(
      await signMessage(alice.signer, 1, [
        { ts: NOW - 1, values: { t: 1 } },
        { ts: NOW - 2, values: { t: 2 } },
      ]),
    );
    await until(() => node.writer.inflight === 2);
    const refused = await post(await signMessage(alice.signer, 2, [{ ts: NOW - 3, values: { t: 3 } }]));
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error.code).toBe('ERR_OVERLOADED');
    expect(refused.headers['retry-after']).toBe('1');
    store.release();
    expect((await first).statusCode).toBe(200);
    expect((await post(await signMessage(alice.signer, 2, [{ ts: NOW - 3, values: { t: 3 } }]))).statusCode).toBe(200);
  });

  it('refuses new messages with 503 once draining, and readiness turns false first', async () => {
    node.beginDrain();
    expect((await node.app.inject('/readyz')).statusCode).toBe(503);
    const response = await post(await signMessage(alice.signer, 1, [{ ts: NOW - 10, values: { t: 1 } }]));
    expect(response.statusCode).toBe(503);
    expect(response.json().error.code).toBe('ERR_SHUTTING_DOWN');
  });

  it('answers every request but health, readiness and metrics with 503 ERR_SHUTTING_DOWN while draining, closing its connection', async () => {
    node.beginDrain();
    for (const url of ['/v1/messages/batch', '/v1/query/readings?device=alice', '/dashboard/', '/no-such-route']) {
      const response = await node.app.inject({ method: url.includes('messages') ? 'POST' : 'GET', url });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toEqual({
        error: { code: 'ERR_SHUTTING_DOWN', message: expect.any(String), retryable: true },
      });
      expect(response.headers['retry-after']).toBe('1');
      expect(response.headers.connection).toBe('close');
    }
    expect((await node.app.inject('/healthz')).statusCode).toBe(200);
    expect((await node.app.inject('/metrics')).statusCode).toBe(200);
  });

  it('limits a device to its rate with 429 when a rate limit is set', async () => {
    await node.close(1000);
    node = await build({ TELEMETRY_RATE_LIMIT_PER_DEVICE: '2' });
    const codes: number[] = [];
    for (let seq = 0; seq < 3; seq++) {
      codes.push(
        (await post(await signMessage(alice.signer, seq, [{ ts: NOW - seq, values: { t: seq } }]))).statusCode,
      );
    }
    expect(codes).toEqual([200, 200, 429]);
    expect((await post(await signMessage(bob.signer, 1, [{ ts: NOW, values: { t: 1 } }]))).statusCode).toBe(200);
  });
});

describe('POST /v1/messages/batch', () => {
  it('answers per message: accepted ones are stored, rejected ones carry their code', async () => {
    const good = await signMessage(alice.signer, 1, [{ ts: NOW - 10, values: { t: 1 } }]);
    const alsoGood = await signMessage(bob.signer, 9, [{ ts: NOW - 20, values: { t: 2 } }]);
    const bad = await signPayload(bob.signer, {
      v: 1,
      device: alice.id,
      seq: 1,
      readings: [{ ts: NOW, values: { t: 1 } }],
    });
    const response = await node.app.inject({
      method: 'POST',
      url: '/v1/messages/batch',
      payload: { messages: [good, bad, alsoGood] },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().results).toEqual([
      { status: 'accepted', device: alice.id, seq: 1, readings: 1 },
      { status: 'rejected', code: 'ERR_DEVICE_MISMATCH', message: expect.any(String), retryable: false },
      { status: 'accepted', device: bob.id, seq: 9, readings: 1 },
    ]);
    expect(await stored(alice.id)).toHaveLength(1);
    expect(await stored(bob.id)).toHaveLength(1);
  });

  it('answers 400 to a batch that is not {"messages": [...]}', async () => {
    const response = await node.app.inject({ method: 'POST', url: '/v1/messages/batch', payload: { msgs: [] } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('ERR_MESSAGE_MALFORMED');
  });
});

describe('operations endpoints', () => {
  it('serves /healthz, /readyz and Prometheus metrics that count outcomes by code', async () => {
    expect((await node.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await node.app.inject('/readyz')).json()).toEqual({ status: 'ready' });
    await post(await signMessage(alice.signer, 1, [{ ts: NOW - 10, values: { t: 1 } }]));
    await post('garbage');
    const metrics = (await node.app.inject('/metrics')).body;
    expect(metrics).toMatch(/telemetry_messages_accepted_total\{transport="http"\} 1/);
    expect(metrics).toMatch(/telemetry_messages_rejected_total\{transport="http",code="ERR_MESSAGE_MALFORMED"\} 1/);
    expect(metrics).toMatch(/telemetry_readings_written_total 1/);
    expect(metrics).toMatch(/telemetry_inflight_readings 0/);
  });

  it('exports the version it runs and the latency of every acknowledged message, and none of a refused one', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    await post(await signMessage(alice.signer, 1, [{ ts: NOW - 10, values: { t: 1 } }]));
    await post(await signMessage(alice.signer, 2, [{ ts: NOW - 9, values: { t: 2 } }]));
    await post('garbage');
    const metrics = (await node.app.inject('/metrics')).body;
    expect(metrics).toContain(`telemetry_build_info{version="${version}",node_version="${process.versions.node}"} 1`);
    expect(metrics).toMatch(/^telemetry_ack_seconds_count\{transport="http"\} 2$/m);
    expect(metrics).toMatch(/^telemetry_ack_seconds_bucket\{le="\+Inf",transport="http"\} 2$/m);
  });
});

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}
