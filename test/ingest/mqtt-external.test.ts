import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type IPublishPacket, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { type ExternalSubscriber, startExternalSubscriber } from '../../ingest/mqtt/external-subscriber.js';
import { pubackReasonCode } from '../../ingest/mqtt/mqtt-codes.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { DeviceKeys, type ErrorCode, signMessage, signPayload, TelemetryError } from '../../src/index.js';
import { errorsTopic, messagesTopic } from '../../src/protocol/topics.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';
import { HeldStore } from '../support/held-store.js';
import { type MosquittoServer, startMosquitto } from '../support/mosquitto-server.js';
import { pollUntil } from '../support/poll-until.js';
import { acceptedBy, type ServeProcess, startServe } from '../support/serve-process.js';
import { startVictoriaMetrics, type VictoriaMetricsServer } from '../support/victoria-metrics-server.js';

const NOW = Date.now();
let broker: MosquittoServer;
let alice: TestDevice;
let bob: TestDevice;
let sequence = 0;
/** Everything a test started, stopped in reverse order after it. */
let cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  broker = await startMosquitto();
  alice = await makeDevice(`alice-${process.pid}`, 'ES256');
  bob = await makeDevice(`bob-${process.pid}`, 'EdDSA');
});

afterAll(async () => {
  await broker?.stop();
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

interface RunningTestNode {
  readonly node: IngestNode;
  readonly store: HeldStore;
  readonly subscriber: ExternalSubscriber;
  readonly clientId: string;
}

/** A node with its own in-memory store, subscribed to the broker in share group `group` over `connections`. */
async function startTestNode(group: string, connections = 1): Promise<RunningTestNode> {
  const store = new HeldStore(await DuckDbStore.open({ path: ':memory:' }));
  const node = await buildIngest({
    config: parseConfig({ TELEMETRY_BATCH_MAX_WAIT_MS: '1' }),
    store,
    keys: new DeviceKeys({ registry: () => registryOf(alice, bob) }),
    now: () => NOW,
  });
  const clientId = `node-${process.pid}-${++sequence}`;
  const subscriber = await startExternalSubscriber(node, {
    url: broker.url,
    shareGroup: group,
    clientId,
    connections,
    backoff: { minMs: 100, maxMs: 400 },
  });
  cleanups.push(async () => {
    store.release();
    store.heal();
    await subscriber.close();
    await node.close(1000);
    await store.close();
  });
  return { node, store, subscriber, clientId };
}

/** An MQTT 5 client as a device (or a probe) would open it; closed after the test. */
async function client(clientId: string, options: Parameters<typeof connectAsync>[1] = {}): Promise<MqttClient> {
  const connected = await connectAsync(broker.url, { protocolVersion: 5, clientId, reconnectPeriod: 0, ...options });
  cleanups.push(() => connected.endAsync(true));
  return connected;
}

function newGroup(): string {
  return `ingest-${process.pid}-${++sequence}`;
}

async function storedTimes(store: TelemetryStore, device: string): Promise<number[]> {
  const page = await store.queryReadings({
    devices: [device],
    range: { start: NOW - 86_400_000, end: NOW + 86_400_000 },
    limit: 10_000,
  });
  return page.items.map((item) => item.ts);
}

/** Starts `telemetry serve` and makes sure it is killed after the test. */
async function startServeProcess(cwd: string, env: NodeJS.ProcessEnv): Promise<ServeProcess> {
  const node = await startServe({ cwd, env });
  cleanups.push(async () => {
    await node.stop('SIGKILL');
  });
  return node;
}

/** How many messages a node process accepted over MQTT, from its /metrics. */

function reading(ts: number): Array<{ ts: number; values: Record<string, number> }> {
  return [{ ts, values: { t: ts % 1000 } }];
}

describe('external-broker subscriber', () => {
  it('stores the readings a device publishes at QoS 1, and PUBACKs the broker only after the store accepted them', async () => {
    const group = newGroup();
    const { store, subscriber, clientId } = await startTestNode(group);
    const device = await client(`dev-${alice.id}-${++sequence}`);
    store.hold();
    await device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, 1, reading(NOW - 1)), {
      qos: 1,
    });
    await pollUntil(async () => store.writesStarted === 1, 'the node to start writing');

    // Take the node's session over while the write is held: the broker hands the probe what the node has not
    // acknowledged, marked DUP.
    const redelivered: IPublishPacket[] = [];
    await client(clientId, {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      customHandleAcks: (_topic, _payload, packet: IPublishPacket) => {
        redelivered.push(packet);
      },
    });
    await pollUntil(async () => redelivered.length === 1, 'the unacknowledged message to be redelivered');
    expect(redelivered[0]?.dup).toBe(true);
    expect(redelivered[0]?.topic).toBe(messagesTopic(alice.id));
    await cleanups.pop()?.(); // the probe leaves without acknowledging

    // The node reconnects, gets it again, stores it once and acknowledges it.
    store.release();
    await pollUntil(async () => store.writesDone >= 2, 'the redelivered message to be stored');
    expect(await storedTimes(store, alice.id)).toEqual([NOW - 1]);
    await subscriber.close();

    // Now nothing is left unacknowledged in the session: the probe's first message is a new one.
    const received: string[] = [];
    const probe = await client(clientId, {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      customHandleAcks: (_topic, payload, _packet, ack) => {
        received.push(payload.toString());
        ack(0);
      },
    });
    await probe.subscribeAsync(`$share/${group}/devices/+/messages`, { qos: 1 });
    await device.publishAsync(messagesTopic(alice.id), 'marker', { qos: 1 });
    await pollUntil(async () => received.length > 0, 'the marker to arrive');
    expect(received).toEqual(['marker']);
  });

  it.each<[string, () => Promise<string>, ErrorCode, number | null]>([
    ['garbage', async () => 'not a jws', 'ERR_MESSAGE_MALFORMED', null],
    [
      "a message signed by another device's key on this device's topic",
      async () => signMessage(bob.signer, 1, reading(NOW - 5)),
      'ERR_DEVICE_MISMATCH',
      1,
    ],
    [
      'a message naming another device',
      async () => signPayload(bob.signer, { v: 1, device: alice.id, seq: 1, readings: reading(NOW - 5) }),
      'ERR_DEVICE_MISMATCH',
      1,
    ],
    [
      'a schema error',
      async () => signPayload(alice.signer, { v: 1, device: alice.id, seq: 1, readings: [] }),
      'ERR_PAYLOAD_INVALID',
      1,
    ],
  ])('rejects %s with a notice on the device errors topic and does not store it', async (_name, make, code, seq) => {
    const { node, store } = await startTestNode(newGroup());
    const device = await client(`dev-${alice.id}-${++sequence}`);
    const notices: unknown[] = [];
    device.on('message', (_topic, payload) => notices.push(JSON.parse(payload.toString())));
    await device.subscribeAsync(errorsTopic(alice.id), { qos: 0 });
    await device.publishAsync(messagesTopic(alice.id), await make(), { qos: 1 });
    await pollUntil(async () => notices.length === 1, 'the error notice');
    expect(notices[0]).toEqual({ seq, code, message: expect.any(String), retryable: false });
    // Acknowledged with a failure code, so the broker dropped it: the next message is the next one stored.
    await device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, 2, reading(NOW - 2)), {
      qos: 1,
    });
    await pollUntil(async () => (await storedTimes(store, alice.id)).length === 1, 'the good message to be stored');
    expect(await storedTimes(store, alice.id)).toEqual([NOW - 2]);
    expect(store.writesStarted).toBe(1);
    const metrics = (await node.app.inject('/metrics')).body;
    expect(metrics).toContain(`telemetry_messages_rejected_total{transport="mqtt",code="${code}"} 1`);
  });

  it('chooses an MQTT 5 PUBACK failure reason code by the kind of error', () => {
    expect(pubackReasonCode('ERR_DEVICE_MISMATCH')).toBe(0x87);
    expect(pubackReasonCode('ERR_SIGNATURE_INVALID')).toBe(0x87);
    expect(pubackReasonCode('ERR_MESSAGE_MALFORMED')).toBe(0x99);
    expect(pubackReasonCode('ERR_PAYLOAD_MALFORMED')).toBe(0x99);
    expect(pubackReasonCode('ERR_TIMESTAMP_OUT_OF_RANGE')).toBe(0x83);
  });

  it('splits the stream between two nodes of one share group, each message stored by exactly one', async () => {
    const group = newGroup();
    const [first, second] = [await startTestNode(group), await startTestNode(group)];
    const device = await client(`dev-${alice.id}-${++sequence}`);
    const sent: number[] = [];
    for (let seq = 0; seq < 20; seq++) {
      sent.push(NOW - 100 + seq);
      await device.publishAsync(
        messagesTopic(alice.id),
        await signMessage(alice.signer, seq, reading(NOW - 100 + seq)),
        {
          qos: 1,
        },
      );
    }
    const both = async () => [
      ...(await storedTimes(first.store, alice.id)),
      ...(await storedTimes(second.store, alice.id)),
    ];
    await pollUntil(async () => (await both()).length >= sent.length, 'every message to be stored');
    expect((await both()).sort((a, b) => a - b)).toEqual(sent);
    expect((await storedTimes(first.store, alice.id)).length).toBeGreaterThan(0);
    expect((await storedTimes(second.store, alice.id)).length).toBeGreaterThan(0);
  });

  it('works on one message per connection at once over several connections, each its own session', async () => {
    const { node, store, subscriber, clientId } = await startTestNode(newGroup(), 3);
    expect(subscriber.clientIds).toEqual([clientId, `${clientId}-2`, `${clientId}-3`]);
    const device = await client(`dev-${alice.id}-${++sequence}`);
    store.hold();
    const sent = [NOW - 3, NOW - 2, NOW - 1];
    for (const [seq, ts] of sent.entries()) {
      await device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, seq, reading(ts)), { qos: 1 });
    }
    // One connection would hand over its next message only after the held write; three hold one each.
    const inflight = async () =>
      /telemetry_inflight_readings (\d+)/.exec((await node.app.inject('/metrics')).body)?.[1] ?? '0';
    await pollUntil(async () => (await inflight()) === '3', 'a message from each connection in the pipeline');
    store.release();
    await pollUntil(async () => (await storedTimes(store, alice.id)).length === sent.length, 'every message stored');
    expect(await storedTimes(store, alice.id)).toEqual(sent);
  });

  it('does not acknowledge while the store is down, and stores every message once after it heals', async () => {
    const { store } = await startTestNode(newGroup());
    const device = await client(`dev-${alice.id}-${++sequence}`);
    store.fail(new TelemetryError('ERR_STORE_UNAVAILABLE', 'down'));
    const sent = [NOW - 30, NOW - 20, NOW - 10];
    for (const [seq, ts] of sent.entries()) {
      await device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, seq, reading(ts)), { qos: 1 });
    }
    // A second attempt at the first message can only come from the broker redelivering it after a reconnect.
    await pollUntil(async () => store.writesStarted >= 3, 'the broker to redeliver the unacknowledged message');
    expect(store.writesDone).toBe(0);
    store.heal();
    await pollUntil(async () => (await storedTimes(store, alice.id)).length === sent.length, 'every message stored');
    expect(await storedTimes(store, alice.id)).toEqual(sent);
  });
});

describe('external mode across node processes', () => {
  let vm: VictoriaMetricsServer;
  let dir: string;

  beforeAll(async () => {
    vm = await startVictoriaMetrics();
    dir = await mkdtemp(join(tmpdir(), 'mqtt-external-'));
  });

  afterAll(async () => {
    await vm?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged reading when a node is killed mid-stream and comes back with its client id', async () => {
    const registry = join(dir, 'registry.jwks.json');
    await writeFile(registry, JSON.stringify({ keys: [alice.publicJwk, bob.publicJwk] }));
    const group = newGroup();
    const serve = async (name: string): Promise<ServeProcess> => {
      return startServeProcess(dir, {
        TELEMETRY_MQTT: 'external',
        TELEMETRY_MQTT_BROKER_URL: broker.url,
        TELEMETRY_MQTT_SHARE_GROUP: group,
        TELEMETRY_MQTT_CLIENT_ID: `${group}-${name}`,
        TELEMETRY_STORE: 'influxdb',
        TELEMETRY_INFLUX_URL: vm.url,
        TELEMETRY_INFLUX_QUERY: 'victoriametrics',
        TELEMETRY_KEY_REGISTRY: registry,
        TELEMETRY_DATA_DIR: join(dir, name),
        TELEMETRY_BATCH_MAX_WAIT_MS: '1',
        TELEMETRY_LOG_LEVEL: 'warn',
      });
    };
    const nodeA = await serve('a');
    await serve('b');
    const devices = [alice, bob];
    const clients = await Promise.all(devices.map((d) => client(`dev-${d.id}-${++sequence}`)));
    const start = Date.now() - 60_000;
    const acknowledged = new Map<string, number[]>(devices.map((d) => [d.id, []]));
    const total = 150;
    let restarted: Promise<ServeProcess> | undefined;
    for (let i = 0; i < total; i++) {
      const d = i % 2;
      const device = devices[d] as TestDevice;
      const ts = start + i;
      await (clients[d] as MqttClient).publishAsync(
        messagesTopic(device.id),
        await signMessage(device.signer, i, [{ ts, values: { n: i } }]),
        { qos: 1 },
      );
      acknowledged.get(device.id)?.push(ts);
      if (i === 50) {
        await pollUntil(async () => (await acceptedBy(nodeA, 'mqtt')) > 0, 'node A to have stored some before it dies');
        await nodeA.stop('SIGKILL');
      }
      if (i === 100) restarted = serve('a');
    }
    // Mosquitto kept routing A's share to A's session while A was dead; the restarted A got those.
    const nodeAAgain = await (restarted as Promise<ServeProcess>);
    await pollUntil(
      async () => (await acceptedBy(nodeAAgain, 'mqtt')) > 0,
      'the restarted node to get its queued share',
    );

    const store = new InfluxStore({
      url: vm.url,
      api: 'v2',
      org: '',
      bucket: 'telemetry',
      timeoutMs: 5_000,
      queryMode: 'victoriametrics',
    });
    cleanups.push(() => store.close());
    const stored = async (device: string) => {
      const page = await store.queryReadings({
        devices: [device],
        range: { start, end: start + total },
        limit: 10_000,
      });
      return page.items.map((item) => item.ts);
    };
    await pollUntil(
      async () => {
        await vm.flush();
        for (const device of devices) {
          if ((await stored(device.id)).length < (acknowledged.get(device.id)?.length ?? 0)) return false;
        }
        return true;
      },
      'every acknowledged reading to be in the store',
      30_000,
    );
    for (const device of devices) expect(await stored(device.id)).toEqual(acknowledged.get(device.id));
  }, 90_000);
});
