import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestNode } from '../../ingest/build-ingest.js';
import { type ExternalSubscriber, startExternalSubscriber } from '../../ingest/mqtt/external-subscriber.js';
import { pubackReasonCode } from '../../ingest/mqtt/mqtt-codes.js';
import { type ErrorCode, errorsTopic, messagesTopic } from '../../src/index.js';
import type { HeldStore } from '../support/held-store.js';
import { type MosquittoServer, startMosquitto } from '../support/mosquitto-server.js';
import { type ConformanceCase, casesFor } from './cases.js';
import { type ErrorRow, readErrorTable } from './error-table.js';
import { expectNotice, until } from './mqtt-checks.js';
import { deliveriesOf, type MqttProxy, pubackOf, startMqttProxy } from './mqtt-proxy.js';
import { type Arranged, arrange, buildWorldNode, openStore, openWorld, validMessage, type World } from './world.js';

const rows = new Map(readErrorTable().map((row) => [row.code, row]));
let world: World;
let broker: MosquittoServer;
let proxy: MqttProxy;
let device: MqttClient;
/** Every notice published on the broker, with its topic. */
const notices: Array<{ topic: string; notice: Record<string, unknown> }> = [];
let sequence = 0;

beforeAll(async () => {
  world = await openWorld();
  broker = await startMosquitto();
  proxy = await startMqttProxy(broker.url);
  device = await connectAsync(broker.url, {
    protocolVersion: 5,
    clientId: `conformance-device-${process.pid}`,
    reconnectPeriod: 0,
  });
  device.on('message', (topic, payload) => notices.push({ topic, notice: JSON.parse(payload.toString()) }));
  await device.subscribeAsync('devices/+/errors', { qos: 0 });
});

afterAll(async () => {
  await device?.endAsync(true);
  await proxy?.close();
  await broker?.stop();
});

interface RunningNode {
  readonly node: IngestNode;
  readonly store: HeldStore;
  readonly subscriber: ExternalSubscriber;
  /** The client id of the node's one connection: the proxy tells its deliveries from those of earlier nodes by it. */
  readonly clientId: string;
}

/** A node of its own for each case, in a share group of its own, subscribed through the proxy. */
async function startNode(): Promise<RunningNode> {
  const store = await openStore();
  const node = await buildWorldNode(world, store);
  const clientId = `conformance-node-${process.pid}-${++sequence}`;
  const subscriber = await startExternalSubscriber(node, {
    url: proxy.url,
    shareGroup: `conformance-${process.pid}-${sequence}`,
    clientId,
    backoff: { minMs: 50, maxMs: 400 },
    closeTimeoutMs: 500,
  });
  return { node, store, subscriber, clientId };
}

async function stopNode({ node, store, subscriber }: RunningNode): Promise<void> {
  store.release();
  store.heal();
  await subscriber.close();
  await node.close(1000);
  await store.close();
}

/** What the case publishes, and where. */
async function prepare(
  c: ConformanceCase,
  running: RunningNode,
): Promise<{ topic: string; payload: string; arranged?: Arranged }> {
  const { provoke: p } = c;
  switch (p.kind) {
    case 'message':
      return { topic: messagesTopic(p.device), payload: p.message };
    case 'condition': {
      const arranged = await arrange(world, running.node, running.store, p.condition);
      return { topic: messagesTopic(arranged.device), payload: arranged.message, arranged };
    }
    case 'unaddressable-topic':
      return { topic: 'devices/not!a-device/messages', payload: await validMessage(world, 'sensor-es256', 1) };
    default:
      throw new Error(`the external-broker suite cannot provoke ${p.kind}`);
  }
}

/**
 * A refusal as §10.2 says for the row, whatever its MQTT column: a notice on the device's errors topic (with
 * `retryAfter` when the device should resend) and the PUBACK to the broker with the reason code pubackReasonCode
 * gives. The node never leaves a message with the broker: the device resends, on its own clock.
 */
async function check(c: ConformanceCase, row: ErrorRow): Promise<void> {
  const running = await startNode();
  let arranged: Arranged | undefined;
  try {
    const prepared = await prepare(c, running);
    arranged = prepared.arranged;
    const { topic, payload } = prepared;
    const { clientId } = running;
    const errors = topic.replace(/\/messages$/, '/errors');
    const from = notices.length;
    await device.publishAsync(topic, payload, { qos: 1 });
    const acked = () => {
      const [delivery] = deliveriesOf(proxy, clientId, payload);
      return delivery && pubackOf(proxy, delivery);
    };
    await until(() => acked() !== undefined, 'the PUBACK');
    expect(acked()).toBe(c.puback ?? pubackReasonCode(c.code as ErrorCode));
    // The node publishes the notice before it acknowledges; the broker may still be passing it on.
    const mine = () => notices.slice(from).filter((n) => n.topic === errors);
    if (c.notice === false) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(notices.slice(from)).toEqual([]);
      return;
    }
    await until(() => mine().length > 0, 'the notice', 2000);
    expect(mine()).toHaveLength(1);
    expectNotice(mine()[0]?.notice, row);
    expect(errors).toBe(errorsTopic(topic.split('/')[1] ?? ''));
  } finally {
    await arranged?.undo();
    await stopNode(running);
  }
}

describe('a node on an external broker treats every code as docs/PROTOCOL.md §10.2 and §11 say', () => {
  for (const c of casesFor('mqtt-external')) {
    it(`${c.code}: ${c.name}`, async () => {
      const row = rows.get(c.code);
      if (row === undefined) throw new Error(`${c.code} is not in docs/PROTOCOL.md §11`);
      await check(c, row);
    });
  }
});

describe('a node closed on an external broker', () => {
  it('leaves none of its connections open, not even one it closed while reconnecting', async () => {
    // A connection that finished connecting after its node began closing once joined the share group and held
    // later messages without acknowledging them.
    const nodeConnections = () =>
      [...proxy.clientIds].filter(([, id]) => id.startsWith(`conformance-node-${process.pid}-`)).map(([n]) => n);
    expect(nodeConnections().length).toBeGreaterThan(0);
    await until(() => nodeConnections().every((n) => proxy.closed.has(n)), 'every node connection closed', 3000);
  });
});
