import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, issueOperatorToken } from '../../src/index.js';
import { CuttingProxy } from '../support/cutting-proxy.js';
import { type MosquittoServer, startMosquitto } from '../support/mosquitto-server.js';
import { pollUntil } from '../support/poll-until.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';
import { freePort } from '../support/server-process.js';
import { type BridgeProcess, bridgeMetrics, startBridgeProcess } from './bridge-process.js';

/** Messages in one burst of the random kills; the bridge is killed a quarter of the way in. */
const BURST = 1_500;
/** Mosquitto's max_inflight_messages in test/support/mosquitto-server.ts: what it sends before waiting for PUBACKs. */
const MAX_INFLIGHT = 20;

let dir: string;
let mosquitto: MosquittoServer;
let proxy: CuttingProxy;
let publisher: MqttClient;
let node: ServeProcess | undefined;
let bridge: BridgeProcess | undefined;
let bridgeEnv: NodeJS.ProcessEnv;
let nodeUrl: string;
let operatorToken: string;
/** Before every arrival time the bridges give. */
const T0 = Date.now() - 60_000;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bridge-kill-redelivery-'));
  mosquitto = await startMosquitto();
  proxy = new CuttingProxy(Number(new URL(mosquitto.url).port));
  await proxy.listen();
  publisher = await connectAsync(mosquitto.url, { clientId: 'burst-publisher', protocolVersion: 4 });
  const operators = await generateKey('ES256', 'operators.k1');
  await writeFile(join(dir, 'operators.jwks.json'), JSON.stringify({ keys: [operators.publicJwk] }));
  await writeFile(join(dir, 'registry.json'), JSON.stringify({ keys: [] }));
  operatorToken = await issueOperatorToken({
    issuerKey: operators.privateJwk,
    subject: 'bridge-kill-test',
    scope: 'read',
    lifetimeSeconds: 3600,
    now: Date.now(),
  });
  const port = await freePort();
  nodeUrl = `http://127.0.0.1:${port}`;
  node = await startServe({
    cwd: dir,
    env: {
      TELEMETRY_HTTP_PORT: String(port),
      TELEMETRY_MQTT: 'off',
      TELEMETRY_DATA_DIR: join(dir, 'node-data'),
      TELEMETRY_KEY_REGISTRY: join(dir, 'registry.json'),
      TELEMETRY_OPERATOR_ISSUERS: join(dir, 'operators.jwks.json'),
      TELEMETRY_LOG_LEVEL: 'warn',
    },
    timeoutMs: 60_000,
  });
  bridgeEnv = {
    TELEMETRY_BRIDGE_NODE_URL: nodeUrl,
    // Through the proxy, which can lose what the bridge sends.
    TELEMETRY_BRIDGE_MQTT_URL: proxy.url,
    TELEMETRY_BRIDGE_MAPPINGS: 'zigbee2mqtt',
    TELEMETRY_BRIDGE_STATE_DIR: join(dir, 'bridge-state'),
    TELEMETRY_BRIDGE_REGISTRY: join(dir, 'registry.json'),
    TELEMETRY_BRIDGE_RETRY_MAX_MS: '1000',
    TELEMETRY_BRIDGE_LOG_LEVEL: 'warn',
  };
}, 120_000);

afterAll(async () => {
  await bridge?.stop('SIGKILL');
  await node?.stop('SIGKILL');
  await publisher?.endAsync();
  await proxy?.close();
  await mosquitto?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The values of `counter` the node stores for the burst sensor, one per stored point. */
async function storedCounters(): Promise<number[]> {
  const query = new URLSearchParams({ device: 'burst-sensor', from: String(T0), to: String(Date.now() + 60_000) });
  query.set('limit', '100000');
  const response = await fetch(`${nodeUrl}/v1/query/readings?${query}`, {
    headers: { authorization: `Bearer ${operatorToken}` },
  });
  if (response.status !== 200) throw new Error(`query answered ${response.status}`);
  return ((await response.json()) as { items: { value: number }[] }).items.map((p) => p.value);
}

/** Publishes the counters `from`…`to` as one Zigbee2MQTT sensor without last_seen: each reading gets its arrival time. */
async function publishCounters(from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) {
    await publisher.publishAsync('zigbee2mqtt/burst-sensor', JSON.stringify({ counter: n }), { qos: 1 });
  }
}

/** Waits until the node holds `count` distinct counters and the bridge has nothing left to send. */
async function drained(running: BridgeProcess, count: number, what: string): Promise<void> {
  await pollUntil(async () => new Set(await storedCounters()).size >= count, what, 120_000, running.output);
  await pollUntil(
    async () => (await bridgeMetrics(running.httpUrl))('telemetry_bridge_backlog_readings') === 0,
    'the backlog to empty',
  );
}

describe('telemetry bridge killed (SIGKILL) while timestamp-less messages flow', () => {
  it('stores each reading once, although Mosquitto delivers again what the bridge had written down', async () => {
    // 1. The bridge writes messages down, but its PUBACKs are lost on the way; then it is killed.
    bridge = await startBridgeProcess(bridgeEnv, dir);
    const first = bridge;
    await pollUntil(async () => (await fetch(`${first.httpUrl}/healthz`)).status === 200, 'the bridge to connect');
    proxy.dropping = true;
    await publishCounters(1, 100);
    // Mosquitto sends as many as it may have in flight, and waits for PUBACKs that never come.
    await pollUntil(
      async () => (await bridgeMetrics(first.httpUrl))('telemetry_bridge_readings_received_total') >= MAX_INFLIGHT,
      'the bridge to write down what Mosquitto sent',
    );
    await first.stop('SIGKILL');
    proxy.cut();
    proxy.dropping = false;
    // 2. The next bridge gets those again, with DUP set, and the rest for the first time.
    bridge = await startBridgeProcess(bridgeEnv, dir);
    await drained(bridge, 100, 'counters 1 to 100 to be stored');
    const metrics = await bridgeMetrics(bridge.httpUrl);
    expect(metrics('telemetry_bridge_redeliveries_skipped_total')).toBe(MAX_INFLIGHT);
    expect(metrics('telemetry_bridge_readings_received_total')).toBe(100 - MAX_INFLIGHT);
    await bridge.stop('SIGKILL');

    // 3. Killed at random moments in a burst: wherever a kill falls, nothing is stored twice or lost.
    let published = 100;
    for (let kill = 1; kill <= 3; kill++) {
      bridge = await startBridgeProcess(bridgeEnv, dir);
      const running = bridge;
      const burst = publishCounters(published + 1, published + BURST);
      published += BURST;
      await pollUntil(
        async () => (await bridgeMetrics(running.httpUrl))('telemetry_bridge_readings_received_total') >= BURST / 4,
        'the bridge to be in the middle of the burst',
        60_000,
      );
      await running.stop('SIGKILL');
      await burst;
    }
    bridge = await startBridgeProcess(bridgeEnv, dir);
    await drained(bridge, published, 'every counter to be stored');
    const stored = (await storedCounters()).sort((a, b) => a - b);
    expect(stored).toEqual(Array.from({ length: published }, (_, i) => i + 1));
  }, 600_000);
});
