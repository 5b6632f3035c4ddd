import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IngestNode } from '../../ingest/build-ingest.js';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../ingest/mqtt/embedded-broker.js';
import { connackReturnCode } from '../../ingest/mqtt/mqtt-codes.js';
import type { ErrorCode } from '../../src/index.js';
import { messagesTopic } from '../../src/index.js';
import type { HeldStore } from '../support/held-store.js';
import { type ConformanceCase, casesFor } from './cases.js';
import { type ErrorRow, readErrorTable } from './error-table.js';
import { expectMqttRefusal, expectNotice, until, watch } from './mqtt-checks.js';
import {
  arrange,
  buildWorldNode,
  connectionToken,
  MESSAGE_VECTORS,
  openStore,
  openWorld,
  validMessage,
  type World,
} from './world.js';

const rows = new Map(readErrorTable().map((row) => [row.code, row]));
let world: World;
let store: HeldStore;
let main: RunningBroker;
let clients: MqttClient[] = [];

interface RunningBroker {
  readonly node: IngestNode;
  readonly broker: EmbeddedBroker;
}

async function startBroker(): Promise<RunningBroker> {
  const node = await buildWorldNode(world, store);
  const { settings } = MESSAGE_VECTORS;
  const broker = await startEmbeddedBroker(node, {
    keys: world.keys,
    host: '127.0.0.1',
    port: 0,
    tokenAudience: settings.tokenAudience,
    maxTokenLifetimeSeconds: settings.maxTokenLifetimeSeconds,
    clockSkewSeconds: settings.clockSkewSeconds,
  });
  return { node, broker };
}

async function stopBroker({ node, broker }: RunningBroker): Promise<void> {
  await broker.close();
  await node.close(1000);
}

async function connect(on: RunningBroker, device: string, password?: string): Promise<MqttClient> {
  const client = await connectAsync(`mqtt://127.0.0.1:${on.broker.tcpPort}`, {
    protocolVersion: 4,
    clientId: device,
    username: device,
    password: password ?? (await connectionToken(world, device)),
    reconnectPeriod: 0,
  });
  clients.push(client);
  return client;
}

/** How many refusals of `code` the node counted on MQTT. */
async function refusals(node: IngestNode, code: string): Promise<number> {
  const text = await node.metrics.registry.getSingleMetricAsString('telemetry_messages_rejected_total');
  const line = text.split('\n').find((l) => l.includes('transport="mqtt"') && l.includes(`code="${code}"`));
  return Number(line?.split(' ').pop() ?? 0);
}

beforeAll(async () => {
  world = await openWorld();
  store = await openStore();
  main = await startBroker();
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)));
  clients = [];
});

afterAll(async () => {
  store?.release();
  store?.heal();
  if (main !== undefined) await stopBroker(main);
  await store?.close();
});

async function check(c: ConformanceCase, row: ErrorRow): Promise<void> {
  const { provoke: p } = c;
  switch (p.kind) {
    case 'message': {
      const client = await connect(main, p.device);
      const seen = await watch(client, p.device);
      return expectMqttRefusal(client, seen, messagesTopic(p.device), p.message, row);
    }
    case 'condition': {
      // Draining cannot be undone, and refuses new connections: it gets a broker of its own, connected first.
      const on = p.condition === 'draining' ? await startBroker() : main;
      try {
        const device = world.conditionDevice[p.condition].id;
        const client = await connect(on, device);
        const seen = await watch(client, device);
        const arranged = await arrange(world, on.node, store, p.condition);
        try {
          await expectMqttRefusal(client, seen, messagesTopic(device), arranged.message, row);
        } finally {
          await arranged.undo();
        }
      } finally {
        if (on !== main) await stopBroker(on);
      }
      return;
    }
    case 'connect': {
      const before = await refusals(main.node, c.code);
      await expect(connect(main, p.device, p.token)).rejects.toMatchObject({
        code: connackReturnCode(c.code as ErrorCode),
      });
      expect(await refusals(main.node, c.code)).toBe(before + 1);
      return;
    }
    case 'token-expiry': {
      const device = 'sensor-eddsa';
      const client = await connect(main, device, await connectionToken(world, device, 1));
      const seen = await watch(client, device);
      await until(() => seen.events.includes('close'), 'the connection to close when its token expires', 4000);
      expect(seen.events).toEqual(['notice', 'close']);
      return expectNotice(seen.notices[0], row);
    }
    case 'foreign-topic': {
      const client = await connect(main, 'sensor-es256');
      const seen = await watch(client, 'sensor-es256');
      const message = await validMessage(world, 'sensor-es256', 1);
      return expectMqttRefusal(client, seen, messagesTopic('sensor-other'), message, row);
    }
    default:
      throw new Error(`the embedded-broker suite cannot provoke ${p.kind}`);
  }
}

describe('the embedded broker treats every code as docs/PROTOCOL.md §11 says', () => {
  it.each(casesFor('mqtt-embedded').map((c) => [`${c.code}: ${c.name}`, c] as const))('%s', async (_name, c) => {
    const row = rows.get(c.code);
    if (row === undefined) throw new Error(`${c.code} is not in docs/PROTOCOL.md §11`);
    await check(c, row);
  });

  it('still stores a valid message after all of them', async () => {
    const client = await connect(main, 'sensor-eddsa');
    await client.publishAsync(messagesTopic('sensor-eddsa'), await validMessage(world, 'sensor-eddsa', 9), { qos: 1 });
    expect(store.writesDone).toBeGreaterThan(0);
  });
});
