import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signMessage } from '../../src/index.js';
import { messagesTopic } from '../../src/protocol/topics.js';
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
    const clients = await Promise.all(devices.map((d) => client(`dev-${d.id}-${nextSequence()}`)));
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
