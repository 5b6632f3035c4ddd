import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeliveryAck, signMessage } from '../../src/index.js';
import { acksTopic, messagesTopic } from '../../src/protocol/topics.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import type { TestDevice } from '../support/devices.js';
import { pollUntil } from '../support/poll-until.js';
import { acceptedBy, type ServeProcess } from '../support/serve-process.js';
import { startVictoriaMetrics, type VictoriaMetricsServer } from '../support/victoria-metrics-server.js';
import {
  alice,
  bob,
  broker,
  cleanups,
  client,
  newGroup,
  nextSequence,
  startServeProcess,
  useMosquitto,
} from './mqtt-external-support.js';

useMosquitto();

/** How long the test's devices wait for an acknowledgement before they resend. */
const ACK_TIMEOUT_MS = 2_000;

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

  /** Starts a node on `group`, storing into VictoriaMetrics. */
  const serve = async (group: string, registry: string, name: string): Promise<ServeProcess> =>
    startServeProcess(dir, {
      TELEMETRY_MQTT: 'external',
      TELEMETRY_MQTT_BROKER_URL: broker.url,
      TELEMETRY_MQTT_SHARE_GROUP: group,
      TELEMETRY_STORE: 'influxdb',
      TELEMETRY_INFLUX_URL: vm.url,
      TELEMETRY_INFLUX_QUERY: 'victoriametrics',
      TELEMETRY_KEY_REGISTRY: registry,
      TELEMETRY_DATA_DIR: join(dir, name),
      TELEMETRY_LOG_LEVEL: 'warn',
    });

  /**
   * Publishes `total` messages as two devices following PROTOCOL.md §10.3: each is kept until the node's
   * acknowledgement names its seq, and resent (same bytes) when none came within ACK_TIMEOUT_MS. `during(i)`
   * runs after the i-th first publish. Resolves with the timestamps acknowledged per device.
   */
  async function publishEndToEnd(
    total: number,
    start: number,
    during: (i: number) => Promise<void>,
  ): Promise<{ acknowledged: Map<string, number[]>; resent: number }> {
    const devices = [alice, bob];
    const clients = await Promise.all(
      devices.map((d) => client(`dev-${d.id}-${nextSequence()}`, { protocolVersion: 4 })),
    );
    const waiting = new Map<string, Map<number, { bytes: string; sentAt: number; ts: number }>>(
      devices.map((d) => [d.id, new Map()]),
    );
    const acknowledged = new Map<string, number[]>(devices.map((d) => [d.id, []]));
    for (const [d, device] of devices.entries()) {
      const c = clients[d] as MqttClient;
      c.on('message', (_topic, payload) => {
        for (const seq of parseDeliveryAck(payload)?.seqs ?? []) {
          const entry = waiting.get(device.id)?.get(seq);
          if (entry === undefined) continue;
          waiting.get(device.id)?.delete(seq);
          acknowledged.get(device.id)?.push(entry.ts);
        }
      });
      await c.subscribeAsync(acksTopic(device.id), { qos: 1 });
    }
    let resent = 0;
    const resendLate = async () => {
      for (const [d, device] of devices.entries()) {
        for (const entry of waiting.get(device.id)?.values() ?? []) {
          if (Date.now() - entry.sentAt < ACK_TIMEOUT_MS) continue;
          entry.sentAt = Date.now();
          resent++;
          await (clients[d] as MqttClient).publishAsync(messagesTopic(device.id), entry.bytes, { qos: 1 });
        }
      }
    };
    for (let i = 0; i < total; i++) {
      const d = i % 2;
      const device = devices[d] as TestDevice;
      const ts = start + i;
      const bytes = await signMessage(device.signer, i, [{ ts, values: { n: i } }]);
      waiting.get(device.id)?.set(i, { bytes, sentAt: Date.now(), ts });
      await (clients[d] as MqttClient).publishAsync(messagesTopic(device.id), bytes, { qos: 1 });
      await during(i);
      await resendLate();
    }
    await pollUntil(
      async () => {
        await resendLate();
        return [...waiting.values()].every((w) => w.size === 0);
      },
      'every message to be acknowledged end to end',
      60_000,
    );
    for (const list of acknowledged.values()) list.sort((x, y) => x - y);
    return { acknowledged, resent };
  }

  async function expectStoredOnce(acknowledged: Map<string, number[]>, start: number, total: number): Promise<void> {
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
    await vm.flush();
    for (const [device, list] of acknowledged) expect(await stored(device)).toEqual(list);
  }

  it('loses nothing acknowledged end to end when a node is killed -9 for good mid-stream', async () => {
    const registry = join(dir, 'registry.jwks.json');
    await writeFile(registry, JSON.stringify({ keys: [alice.publicJwk, bob.publicJwk] }));
    const group = newGroup();
    const nodeA = await serve(group, registry, 'a');
    const nodeB = await serve(group, registry, 'b');
    const start = Date.now() - 60_000;
    const total = 150;
    const { acknowledged } = await publishEndToEnd(total, start, async (i) => {
      if (i !== 50) return;
      await pollUntil(async () => (await acceptedBy(nodeA, 'mqtt')) > 0, 'node A to have stored some before it dies');
      await nodeA.stop('SIGKILL');
    });
    // Every message got its acknowledgement, the later ones all from B: nothing waited for A to come back.
    expect([...acknowledged.values()].flat()).toHaveLength(total);
    expect(await acceptedBy(nodeB, 'mqtt')).toBeGreaterThan(total - 55);
    await expectStoredOnce(acknowledged, start, total);
  }, 120_000);

  it('gives a node that starts mid-stream its share at once', async () => {
    const registry = join(dir, 'registry.jwks.json');
    await writeFile(registry, JSON.stringify({ keys: [alice.publicJwk, bob.publicJwk] }));
    const group = newGroup();
    await serve(group, registry, 'c');
    let late: ServeProcess | undefined;
    const start = Date.now() - 30_000;
    const total = 120;
    const { acknowledged } = await publishEndToEnd(total, start, async (i) => {
      if (i === 30) late = await serve(group, registry, 'd');
    });
    expect([...acknowledged.values()].flat()).toHaveLength(total);
    expect(await acceptedBy(late as ServeProcess, 'mqtt')).toBeGreaterThan(0);
    await expectStoredOnce(acknowledged, start, total);
  }, 120_000);
});
