import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, ErrorWithSubackPacket, type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { CLOSE_GRACE_MS } from '../../ingest/mqtt/device-session.js';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../ingest/mqtt/embedded-broker.js';
import { MqttPacketSizeGuard } from '../../ingest/mqtt/packet-size-guard.js';
import { parseConfig } from '../../src/config/parse-config.js';
import {
  DeviceKeys,
  type ErrorCode,
  signConnectionToken,
  signMessage,
  signPayload,
  TelemetryError,
} from '../../src/index.js';
import { errorsTopic, messagesTopic } from '../../src/protocol/topics.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';
import { HeldStore } from '../support/held-store.js';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const AUDIENCE = 'telemetry-ingest';
let alice: TestDevice;
let bob: TestDevice;
let stranger: TestDevice;
let store: HeldStore;
let node: IngestNode;
let broker: EmbeddedBroker | undefined;
let clients: MqttClient[] = [];
let tempDir: string | undefined;

async function start(env: Record<string, string> = {}, tls?: { cert: Buffer; key: Buffer }): Promise<void> {
  const config = parseConfig({ TELEMETRY_BATCH_MAX_WAIT_MS: '1', ...env });
  const keys = new DeviceKeys({ registry: () => registryOf(alice, bob) });
  node = await buildIngest({ config, store, keys, now: () => NOW });
  broker = await startEmbeddedBroker(node, {
    keys,
    host: '127.0.0.1',
    port: 0,
    wsPort: 0,
    ...(tls === undefined ? {} : { tls: { port: 0, ...tls } }),
    tokenAudience: AUDIENCE,
    maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
    clockSkewSeconds: config.clockSkewSeconds,
    maxPendingPerConnection: config.mqttMaxPendingPerConnection,
  });
}

function token(device: TestDevice, lifetimeSeconds = 600, now = NOW): Promise<string> {
  return signConnectionToken(device.signer, { now, lifetimeSeconds, audience: AUDIENCE });
}

async function connect(
  device: TestDevice,
  options: IClientOptions & { url?: string; token?: string } = {},
): Promise<MqttClient> {
  const { url, token: password, ...rest } = options;
  const client = await connectAsync(url ?? `mqtt://127.0.0.1:${broker?.tcpPort}`, {
    protocolVersion: 4,
    username: device.id,
    password: password ?? (await token(device)),
    reconnectPeriod: 0,
    ...rest,
  });
  clients.push(client);
  return client;
}

/** Records what a client sees, in order: notices on its errors topic and the connection closing. */
async function watch(client: MqttClient, device: TestDevice) {
  const events: string[] = [];
  const notices: Record<string, unknown>[] = [];
  client.on('message', (_topic, payload) => {
    notices.push(JSON.parse(payload.toString()));
    events.push('notice');
  });
  client.on('close', () => events.push('close'));
  const granted = await client.subscribeAsync(errorsTopic(device.id), { qos: 1 });
  expect(granted[0]?.qos).toBe(1);
  return { events, notices };
}

async function stored(device: string, limit = 1000) {
  const page = await store.queryReadings({
    devices: [device],
    range: { start: NOW - 86_400_000, end: NOW + 1 },
    limit,
  });
  return page.items;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function reading(seq: number, device = alice): Promise<string> {
  return signMessage(device.signer, seq, [{ ts: NOW - seq, values: { t: seq } }]);
}

/** The seq a signed message carries, read without verifying it. */
function seqOf(input: string | Uint8Array): number {
  const jws = typeof input === 'string' ? input : Buffer.from(input).toString();
  const payload: unknown = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString());
  return (payload as { seq: number }).seq;
}

/** What went through node.pipeline.handle for one device. */
interface PipelineTrace {
  /** Its messages in the pipeline now. */
  inside: number;
  /** The most of its messages in the pipeline at once. */
  most: number;
  /** The seq of each message that entered the pipeline, in the order they entered. */
  entered: number[];
  /** The seq of each message the pipeline accepted. */
  accepted: number[];
}

/** Records, per device, what enters node.pipeline.handle and what it accepts. */
function tracePipeline(): (device: string) => PipelineTrace {
  const traces = new Map<string, PipelineTrace>();
  const traceOf = (device: string): PipelineTrace => {
    let trace = traces.get(device);
    if (trace === undefined) {
      trace = { inside: 0, most: 0, entered: [], accepted: [] };
      traces.set(device, trace);
    }
    return trace;
  };
  const handle = node.pipeline.handle.bind(node.pipeline);
  vi.spyOn(node.pipeline, 'handle').mockImplementation(async (input, context) => {
    const trace = traceOf(context.expectedDevice ?? '');
    trace.inside++;
    trace.most = Math.max(trace.most, trace.inside);
    trace.entered.push(seqOf(input));
    try {
      const outcome = await handle(input, context);
      if (outcome.ok) trace.accepted.push(outcome.message.seq);
      return outcome;
    } finally {
      trace.inside--;
    }
  });
  return traceOf;
}

/** A certificate for 127.0.0.1 made with the openssl CLI, in a temporary folder that afterEach removes. */
function selfSignedCertificate(): { cert: Buffer; key: Buffer } {
  tempDir = mkdtempSync(join(tmpdir(), 'mqtt-tls-'));
  const cert = join(tempDir, 'cert.pem');
  const key = join(tempDir, 'key.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-days',
        '1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'pipe' },
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('the openssl CLI is missing: install the Debian package `openssl` to run this test');
    }
    throw error;
  }
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

beforeAll(async () => {
  alice = await makeDevice(`alice-${process.pid}`, 'ES256');
  bob = await makeDevice(`bob-${process.pid}`, 'EdDSA');
  stranger = await makeDevice(`stranger-${process.pid}`, 'ES256');
});

beforeEach(async () => {
  store = new HeldStore(await DuckDbStore.open({ path: ':memory:' }));
});

afterEach(async () => {
  store.heal();
  store.release();
  await Promise.all(clients.map((client) => client.endAsync(true)));
  clients = [];
  await broker?.close();
  broker = undefined;
  await node.close(1000);
  await store.close();
  if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
  tempDir = undefined;
});

describe('publishing over the embedded broker', () => {
  beforeEach(() => start());

  it('stores a QoS 1 message and acknowledges it only after the store accepted the write', async () => {
    const client = await connect(alice);
    store.hold();
    let acked = false;
    const ack = client.publishAsync(messagesTopic(alice.id), await reading(1), { qos: 1 }).then(() => {
      acked = true;
    });
    await until(() => store.writesStarted === 1);
    expect(acked).toBe(false);
    expect(store.writesDone).toBe(0);
    store.release();
    await ack;
    expect(store.writesDone).toBe(1);
    expect(await stored(alice.id)).toEqual([{ device: alice.id, metric: 't', ts: NOW - 1, value: 1 }]);
  });

  it('stores a QoS 0 message too', async () => {
    const client = await connect(alice);
    await client.publishAsync(messagesTopic(alice.id), await reading(2), { qos: 0 });
    await until(() => store.writesDone === 1);
    expect(await stored(alice.id)).toHaveLength(1);
  });

  it('stores a retained message without keeping it in the broker', async () => {
    const client = await connect(alice);
    await client.publishAsync(messagesTopic(alice.id), await reading(3), { qos: 1, retain: true });
    expect(await stored(alice.id)).toHaveLength(1);
  });

  it.each<[string, () => Promise<string | Buffer>, ErrorCode, number | null]>([
    ['a tampered message', async () => `${(await reading(1)).slice(0, -4)}AAAA`, 'ERR_SIGNATURE_INVALID', null],
    ['garbage', async () => 'not a jws', 'ERR_MESSAGE_MALFORMED', null],
    [
      'an unknown key',
      async () =>
        signPayload(
          { ...alice.signer, kid: 'nobody.k1' },
          { v: 1, device: alice.id, seq: 1, readings: [{ ts: NOW, values: { t: 1 } }] },
        ),
      'ERR_UNKNOWN_KEY',
      null,
    ],
    [
      'a schema error',
      async () => signPayload(alice.signer, { v: 1, device: alice.id, seq: 1, readings: [] }),
      'ERR_PAYLOAD_INVALID',
      1,
    ],
    [
      'a bad metric name',
      async () => signMessage(alice.signer, 1, [{ ts: NOW, values: { 'a b': 1 } }]),
      'ERR_NAME_INVALID',
      1,
    ],
    [
      'an old reading',
      async () => signMessage(alice.signer, 1, [{ ts: NOW - 30 * 86_400_000, values: { t: 1 } }]),
      'ERR_TIMESTAMP_OUT_OF_RANGE',
      1,
    ],
    ['duplicate JSON names', async () => signPayload(alice.signer, `{"v":1,"v":1}`), 'ERR_PAYLOAD_MALFORMED', null],
    ['a message over the size limit', async () => Buffer.alloc(65_537, 'a'), 'ERR_MESSAGE_TOO_LARGE', null],
  ])(
    'acknowledges %s, publishes a notice with its code (and seq once authenticated) and keeps the connection',
    async (_name, make, code, seq) => {
      const client = await connect(alice);
      const seen = await watch(client, alice);
      const other = await connect(bob);
      const bobSeen = await watch(other, bob);
      await client.publishAsync(messagesTopic(alice.id), await make(), { qos: 1 });
      // The notice travels before the PUBACK, so it is already here when the publish resolves.
      expect(seen.notices).toHaveLength(1);
      expect(seen.notices[0]).toEqual({ seq, code, message: expect.any(String), retryable: false });
      expect(client.connected).toBe(true);
      await client.publishAsync(messagesTopic(alice.id), await reading(5), { qos: 1 });
      expect(await stored(alice.id)).toHaveLength(1);
      expect(bobSeen.notices).toEqual([]);
      const metrics = await node.metrics.registry.metrics();
      expect(metrics).toContain(`telemetry_messages_rejected_total{transport="mqtt",code="${code}"} 1`);
    },
  );

  it.each<[string, () => Promise<{ topic: string; payload: string }>, ErrorCode, number | null]>([
    [
      'a message naming another device',
      async () => ({ topic: messagesTopic(alice.id), payload: await reading(1, bob) }),
      'ERR_DEVICE_MISMATCH',
      1,
    ],
    [
      "a message on another device's topic",
      async () => ({ topic: messagesTopic(bob.id), payload: await reading(1) }),
      'ERR_TOPIC_FORBIDDEN',
      null,
    ],
  ])('answers %s with a notice, then closes the connection without acknowledging', async (_name, make, code, seq) => {
    const client = await connect(alice);
    const seen = await watch(client, alice);
    const { topic, payload } = await make();
    let acked = false;
    client.publish(topic, payload, { qos: 1 }, (error) => {
      acked = error === undefined;
    });
    await until(() => seen.events.includes('close'));
    expect(seen.events).toEqual(['notice', 'close']);
    expect(seen.notices[0]).toEqual({ seq, code, message: expect.any(String), retryable: false });
    expect(acked).toBe(false);
    expect(await stored(alice.id)).toHaveLength(0);
    expect(await stored(bob.id)).toHaveLength(0);
  });

  it('withholds the PUBACK while the store is down, closes, and stores the resent message once it heals', async () => {
    const other = await connect(bob);
    const bobSeen = await watch(other, bob);
    const client = await connect(alice, { reconnectPeriod: 50 });
    const seen = await watch(client, alice);
    store.fail(new TelemetryError('ERR_STORE_UNAVAILABLE', 'down', { retryAfter: 7 }));
    let acked = false;
    const ack = client.publishAsync(messagesTopic(alice.id), await reading(1), { qos: 1 }).then(() => {
      acked = true;
    });
    await until(() => seen.events.includes('close'));
    expect(seen.events.slice(0, 2)).toEqual(['notice', 'close']);
    expect(seen.notices[0]).toEqual({
      seq: 1,
      code: 'ERR_STORE_UNAVAILABLE',
      message: expect.any(String),
      retryable: true,
      retryAfter: 7,
    });
    expect(acked).toBe(false);
    expect(other.connected).toBe(true);
    store.heal();
    await ack;
    expect(await stored(alice.id)).toHaveLength(1);
    await other.publishAsync(messagesTopic(bob.id), await reading(1, bob), { qos: 1 });
    expect(await stored(bob.id)).toHaveLength(1);
    expect(bobSeen.events).toEqual([]);
  });

  it('closes a connection after ten rejected messages in a row, acknowledging each', async () => {
    const client = await connect(alice);
    const seen = await watch(client, alice);
    const acks = Array.from({ length: 10 }, () =>
      client.publishAsync(messagesTopic(alice.id), 'not a jws', { qos: 1 }).then(() => 'acked'),
    );
    expect(await Promise.all(acks)).toEqual(Array(10).fill('acked'));
    await until(() => seen.events.includes('close'));
    expect(seen.notices).toHaveLength(10);
  });

  it('closes the connection with a notice when a packet exceeds the size cap', async () => {
    const client = await connect(alice);
    const seen = await watch(client, alice);
    client.publish(messagesTopic(alice.id), Buffer.alloc(200_000, 'a'), { qos: 1 });
    await until(() => seen.events.includes('close'));
    expect(seen.events).toEqual(['notice', 'close']);
    expect(seen.notices[0]).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE', retryable: false });
  });

  it('serves MQTT over WebSocket', async () => {
    const client = await connect(alice, { url: `ws://127.0.0.1:${broker?.wsPort}` });
    await client.publishAsync(messagesTopic(alice.id), await reading(1), { qos: 1 });
    expect(await stored(alice.id)).toHaveLength(1);
  });
});

describe('subscribing', () => {
  beforeEach(() => start());

  it.each([
    ['#', () => '#'],
    ['devices/+/errors', () => 'devices/+/errors'],
    ["another device's errors topic", () => errorsTopic(bob.id)],
    ['its own messages topic', () => messagesTopic(alice.id)],
  ])('refuses a subscription to %s with SUBACK 128', async (_name, filter) => {
    const client = await connect(alice);
    // mqtt.js turns a SUBACK failure code into an error that carries the SUBACK.
    const refusal = await client.subscribeAsync(filter(), { qos: 1 }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ErrorWithSubackPacket);
    expect((refusal as ErrorWithSubackPacket).packet.granted).toEqual([128]);
    expect(client.connected).toBe(true);
  });

  it("grants a subscription to the device's own errors topic", async () => {
    const client = await connect(alice);
    const granted = await client.subscribeAsync(errorsTopic(alice.id), { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
  });
});

describe('connecting', () => {
  beforeEach(() => start());

  it.each<[string, number, () => Promise<{ device: TestDevice; token: string }>]>([
    ['a bad password', 4, async () => ({ device: alice, token: 'not a token' })],
    ['an expired token', 4, async () => ({ device: alice, token: await token(alice, 60, NOW - 3_600_000) })],
    ['a token of another device than the user name', 5, async () => ({ device: alice, token: await token(bob) })],
    ['a token of an unknown device', 5, async () => ({ device: stranger, token: await token(stranger) })],
  ])('refuses a CONNECT with %s (CONNACK %d)', async (_name, returnCode, make) => {
    const { device, token: password } = await make();
    await expect(connect(device, { token: password })).rejects.toMatchObject({ code: returnCode });
    expect(await node.metrics.registry.getSingleMetricAsString('telemetry_mqtt_connections')).toMatch(/ 0$/m);
  });

  it('closes the connection when its token expires', async () => {
    const client = await connect(alice, { token: await token(alice, 2) });
    const seen = await watch(client, alice);
    expect(await node.metrics.registry.getSingleMetricAsString('telemetry_mqtt_connections')).toMatch(/ 1$/m);
    await until(() => seen.events.includes('close'), 6000);
    expect(seen.notices[0]).toMatchObject({ code: 'ERR_TOKEN_EXPIRED' });
    await until(() => !client.connected);
  });
});

describe('backpressure', () => {
  it('keeps in-flight readings under the cap while the store does not answer', async () => {
    await start({ TELEMETRY_MAX_INFLIGHT_READINGS: '3', TELEMETRY_BATCH_MAX_READINGS: '3' });
    store.hold();
    const client = await connect(alice);
    const seen = await watch(client, alice);
    for (let seq = 0; seq < 50; seq++) {
      client.publish(messagesTopic(alice.id), await reading(seq), { qos: 1 });
    }
    let most = 0;
    await until(() => {
      most = Math.max(most, node.writer.inflight);
      return seen.events.includes('close');
    });
    expect(most).toBeLessThanOrEqual(3);
    expect(seen.notices[0]).toMatchObject({ code: 'ERR_OVERLOADED', retryable: true, retryAfter: 1 });
  });
});

describe('MQTT over TLS', () => {
  it('accepts a device over mqtts:// with a certificate the device trusts', async () => {
    const tls = selfSignedCertificate();
    await start({}, tls);
    const client = await connect(alice, { url: `mqtts://127.0.0.1:${broker?.tlsPort}`, ca: tls.cert });
    await client.publishAsync(messagesTopic(alice.id), await reading(1), { qos: 1 });
    expect(await stored(alice.id)).toHaveLength(1);
  });
});

describe('MqttPacketSizeGuard', () => {
  it('reports the first packet whose declared length is over the cap, across chunks', () => {
    const guard = new MqttPacketSizeGuard(200);
    // PINGREQ, then a PUBLISH of 100 bytes, then a PUBLISH declaring 300 (0xac 0x02) split between chunks.
    expect(guard.feed(Uint8Array.from([0xc0, 0x00, 0x30, 100]))).toBeUndefined();
    expect(guard.feed(new Uint8Array(100))).toBeUndefined();
    expect(guard.feed(Uint8Array.from([0x30, 0xac]))).toBeUndefined();
    expect(guard.feed(Uint8Array.from([0x02]))).toBe(300);
  });

  it('reports a remaining length longer than four bytes as malformed', () => {
    const guard = new MqttPacketSizeGuard(Number.MAX_SAFE_INTEGER);
    expect(guard.feed(Uint8Array.from([0x30, 0x80, 0x80, 0x80, 0x80]))).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('per-connection backpressure', () => {
  const LIMIT = 32;
  const FLOOD = 1000;
  const seqs = Array.from({ length: FLOOD }, (_, seq) => seq);

  it.each(['mqtt', 'ws', 'mqtts'] as const)(
    'keeps a flood over %s to the limit in the pipeline and stops reading, then stores every message once',
    async (scheme) => {
      const tls = scheme === 'mqtts' ? selfSignedCertificate() : undefined;
      await start({ TELEMETRY_MQTT_MAX_PENDING_PER_CONNECTION: String(LIMIT) }, tls);
      const traceOf = tracePipeline();
      const port = { mqtt: broker?.tcpPort, ws: broker?.wsPort, mqtts: broker?.tlsPort }[scheme];
      const client = await connect(alice, { url: `${scheme}://127.0.0.1:${port}`, ...(tls && { ca: tls.cert }) });
      const other = await connect(bob);
      const messages = await Promise.all(seqs.map((seq) => reading(seq)));
      store.hold();
      let acked = 0;
      const acks: Promise<void>[] = [];
      for (const [seq, message] of messages.entries()) {
        // Half QoS 0 (nothing to wait for at the device), then half QoS 1.
        if (seq < FLOOD / 2) client.publish(messagesTopic(alice.id), message, { qos: 0 });
        else acks.push(client.publishAsync(messagesTopic(alice.id), message, { qos: 1 }).then(() => void acked++));
      }
      await until(() => broker?.pausedConnections === 1 && traceOf(alice.id).inside === LIMIT);

      // Another connection is still read and served: its SUBACK comes back, its message enters the pipeline.
      await watch(other, bob);
      const bobAck = other.publishAsync(messagesTopic(bob.id), await reading(1, bob), { qos: 1 });
      await until(() => traceOf(bob.id).inside === 1);
      expect(traceOf(alice.id).entered).toHaveLength(LIMIT);
      expect(broker?.pausedConnections).toBe(1);
      expect(acked).toBe(0);

      store.release();
      await Promise.all([...acks, bobAck]);
      await until(() => traceOf(alice.id).accepted.length === FLOOD);
      expect(acked).toBe(FLOOD / 2);
      expect(traceOf(alice.id).most).toBe(LIMIT);
      expect(traceOf(alice.id).entered).toEqual(seqs);
      expect(traceOf(alice.id).accepted.toSorted((a, b) => a - b)).toEqual(seqs);
      expect(await stored(alice.id, 2 * FLOOD)).toHaveLength(FLOOD);
      expect(await stored(bob.id)).toHaveLength(1);
      expect(broker?.pausedConnections).toBe(0);
    },
  );

  it('closes a paused connection with a notice when its token expires', async () => {
    await start({ TELEMETRY_MQTT_MAX_PENDING_PER_CONNECTION: String(LIMIT) });
    const traceOf = tracePipeline();
    const messages = await Promise.all(seqs.map((seq) => reading(seq)));
    const client = await connect(alice, { token: await token(alice, 2) });
    const seen = await watch(client, alice);
    store.hold();
    let acked = 0;
    for (const message of messages) {
      client.publish(messagesTopic(alice.id), message, { qos: 1 }, (error) => {
        if (error === undefined) acked++;
      });
    }
    await until(() => broker?.pausedConnections === 1);
    await until(() => seen.events.includes('notice'), 6000);
    const noticed = Date.now();
    await until(() => seen.events.includes('close') && broker?.pausedConnections === 0);
    // The node reads on and discards what the device still sends, so both sides
    // close long before the node would give up waiting and destroy the socket.
    expect(Date.now() - noticed).toBeLessThan(CLOSE_GRACE_MS / 2);
    expect(seen.events).toEqual(['notice', 'close']);
    expect(seen.notices[0]).toMatchObject({ code: 'ERR_TOKEN_EXPIRED' });
    expect(acked).toBe(0);
    expect(traceOf(alice.id).entered).toHaveLength(LIMIT);
  });
});
