import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, issueOperatorToken } from '../../src/index.js';
import { type MosquittoServer, startMosquitto } from '../support/mosquitto-server.js';
import { pollUntil } from '../support/poll-until.js';
import { metricsOf, type ServeProcess, startServe } from '../support/serve-process.js';
import { freePort } from '../support/server-process.js';
import { type BridgeProcess, bridgeMetrics, mosquittoPub, startBridgeProcess } from './bridge-process.js';

/** One value a plain device published: what the store must hold, once. */
interface Point {
  readonly device: string;
  readonly metric: string;
  readonly ts: number;
  readonly value: number;
}

const key = (p: Point) => `${p.device} ${p.metric} ${p.ts} ${p.value}`;

let dir: string;
let mosquitto: MosquittoServer;
let node: ServeProcess | undefined;
let bridge: BridgeProcess | undefined;
let nodeEnv: NodeJS.ProcessEnv;
let nodeHttpUrl: string;
let nodeMqttUrl: string;
let operatorToken: string;
/** Whole seconds, a little in the past: every device time is distinct and within the node's window. */
const T0 = Math.floor(Date.now() / 1000) * 1000 - 600_000;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bridge-mqtt-upstream-'));
  mosquitto = await startMosquitto();
  const operators = await generateKey('ES256', 'operators.k1');
  await writeFile(join(dir, 'operators.jwks.json'), JSON.stringify({ keys: [operators.publicJwk] }));
  await writeFile(join(dir, 'registry.json'), JSON.stringify({ keys: [] }));
  operatorToken = await issueOperatorToken({
    issuerKey: operators.privateJwk,
    subject: 'bridge-test',
    scope: 'read',
    lifetimeSeconds: 3600,
    now: Date.now(),
  });
  // Fixed ports, so the node comes back where the bridge expects it after a restart.
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  nodeHttpUrl = `http://127.0.0.1:${httpPort}`;
  nodeMqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
  nodeEnv = {
    TELEMETRY_HTTP_PORT: String(httpPort),
    TELEMETRY_MQTT: 'embedded',
    TELEMETRY_MQTT_HOST: '127.0.0.1',
    TELEMETRY_MQTT_PORT: String(mqttPort),
    TELEMETRY_DATA_DIR: join(dir, 'node-data'),
    TELEMETRY_KEY_REGISTRY: join(dir, 'registry.json'),
    TELEMETRY_OPERATOR_ISSUERS: join(dir, 'operators.jwks.json'),
    TELEMETRY_LOG_LEVEL: 'warn',
  };
  node = await startServe({ cwd: dir, env: nodeEnv, timeoutMs: 60_000 });
}, 120_000);

afterAll(async () => {
  await bridge?.stop('SIGKILL');
  await node?.stop('SIGKILL');
  await mosquitto?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The bridge's settings: MQTT upstream to the node, and an HTTP node URL where nothing listens, so HTTP cannot carry anything. */
async function upstreamEnv(name: string, extra: NodeJS.ProcessEnv): Promise<NodeJS.ProcessEnv> {
  return {
    TELEMETRY_BRIDGE_NODE_URL: `http://127.0.0.1:${await freePort()}`,
    TELEMETRY_BRIDGE_NODE_MQTT_URL: nodeMqttUrl,
    TELEMETRY_BRIDGE_STATE_DIR: join(dir, `${name}-state`),
    TELEMETRY_BRIDGE_REGISTRY: join(dir, 'registry.json'),
    TELEMETRY_BRIDGE_RETRY_MAX_MS: '1000',
    TELEMETRY_BRIDGE_REQUEST_TIMEOUT_SECONDS: '5',
    TELEMETRY_BRIDGE_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** Every point the node stores for `devices`, through the query API. */
async function storedPoints(devices: readonly string[]): Promise<Point[]> {
  const query = new URLSearchParams({ from: String(T0 - 1), to: String(T0 + 3_600_000), limit: '10000' });
  for (const device of devices) query.append('device', device);
  const response = await fetch(`${nodeHttpUrl}/v1/query/readings?${query}`, {
    headers: { authorization: `Bearer ${operatorToken}` },
  });
  if (response.status !== 200) throw new Error(`query answered ${response.status}`);
  return ((await response.json()) as { items: Point[] }).items;
}

describe('telemetry bridge forwarding over MQTT to a real node', () => {
  it('stores every reading published to Mosquitto exactly once, through a node stopped and restarted mid-run', async () => {
    bridge = await startBridgeProcess(
      await upstreamEnv('restart', {
        TELEMETRY_BRIDGE_MQTT_URL: mosquitto.url,
        TELEMETRY_BRIDGE_MAPPINGS: 'tasmota,zigbee2mqtt',
        // Six devices over at most two connections: the others wait, and idle ones are closed.
        TELEMETRY_BRIDGE_NODE_MQTT_CONNECTIONS: '2',
        TELEMETRY_BRIDGE_NODE_MQTT_IDLE_SECONDS: '1',
      }),
      dir,
    );
    await bridge.subscribed();
    const published: Point[] = [];
    const publishRound = async (round: number) => {
      for (let i = 1; i <= 3; i++) {
        const ts = T0 + round * 10_000 + i * 1_000;
        await mosquittoPub(
          mosquitto.url,
          `tele/mplug-${i}/SENSOR`,
          JSON.stringify({ Time: new Date(ts).toISOString().slice(0, 19), ENERGY: { Power: 100 * round + i } }),
        );
        published.push({ device: `mplug-${i}`, metric: 'ENERGY.Power', ts, value: 100 * round + i });
        await mosquittoPub(
          mosquitto.url,
          `zigbee2mqtt/mkitchen-${i}`,
          JSON.stringify({ temperature: 19.5 + round, last_seen: new Date(ts).toISOString() }),
        );
        published.push({ device: `mkitchen-${i}`, metric: 'temperature', ts, value: 19.5 + round });
      }
    };
    const devices = () => [...new Set(published.map((p) => p.device))];
    const acknowledged = async () =>
      (await bridgeMetrics(bridge?.httpUrl ?? ''))('telemetry_bridge_readings_acknowledged_total');

    await publishRound(1);
    await pollUntil(async () => (await acknowledged()) >= 6, 'the bridge to forward round 1', 120_000, bridge.output);

    // The node is killed with the bridge still sending: round 2 may be in flight, round 3 waits in the backlog.
    const sending = publishRound(2);
    await node?.stop('SIGKILL');
    await sending;
    await publishRound(3);
    await pollUntil(
      async () => (await bridgeMetrics(bridge?.httpUrl ?? ''))('telemetry_bridge_backlog_readings') >= 6,
      'rounds 2 and 3 to wait in the backlog',
      60_000,
    );
    node = await startServe({ cwd: dir, env: nodeEnv, timeoutMs: 60_000 });
    await publishRound(4);

    const expected = published.map(key).sort();
    await pollUntil(
      async () => (await storedPoints(devices())).length >= expected.length,
      'every reading to be stored',
      120_000,
      bridge.output,
    );
    await pollUntil(
      async () => (await bridgeMetrics(bridge?.httpUrl ?? ''))('telemetry_bridge_backlog_readings') === 0,
      'the backlog to empty',
    );
    // Exactly once: nothing lost, nothing doubled, nothing else.
    expect((await storedPoints(devices())).map(key).sort()).toEqual(expected);

    const m = await bridgeMetrics(bridge.httpUrl);
    expect(m('telemetry_bridge_readings_received_total')).toBe(24);
    expect(m('telemetry_bridge_readings_acknowledged_total')).toBe(24);
    expect(m('telemetry_bridge_backlog_dropped_readings_total')).toBe(0);
    // Everything went over MQTT, counted as requests with endpoint="mqtt"; HTTP carried nothing.
    expect(m('telemetry_bridge_node_requests_total{endpoint="mqtt",result="answered"}')).toBeGreaterThanOrEqual(1);
    expect(m('telemetry_bridge_node_requests_total{endpoint="single",result="no_answer"}')).toBe(0);
    expect(m('telemetry_bridge_node_requests_total{endpoint="batch",result="no_answer"}')).toBe(0);
    // While the node was down its messages were retried, never counted as delivered.
    const retries = (await (await fetch(`${bridge.httpUrl}/metrics`)).text())
      .split('\n')
      .filter((line) => line.startsWith('telemetry_bridge_message_retries_total{'));
    expect(retries.length).toBeGreaterThan(0);
    // Six devices, never more than two connections; they were opened again as devices took turns.
    expect(m('telemetry_bridge_node_mqtt_connects_total{result="connected"}')).toBeGreaterThan(2);
    await pollUntil(
      async () => (await bridgeMetrics(bridge?.httpUrl ?? ''))('telemetry_bridge_node_mqtt_connections') === 0,
      'idle connections to be closed',
    );
    const nodeMetrics = await metricsOf(node.httpUrl);
    expect(nodeMetrics('telemetry_messages_accepted_total{transport="mqtt"}')).toBeGreaterThan(0);
    expect(nodeMetrics('telemetry_messages_accepted_total{transport="http"}')).toBe(0);
    await bridge.stop();
    bridge = undefined;
  }, 400_000);

  it('renews each device connection token before it expires (3 s tokens), losing nothing', async () => {
    bridge = await startBridgeProcess(
      await upstreamEnv('renewal', {
        TELEMETRY_BRIDGE_MQTT_URL: '',
        TELEMETRY_BRIDGE_NODE_MQTT_TOKEN_TTL_SECONDS: '3',
      }),
      dir,
    );
    const expected: Point[] = [];
    // One reading every 200 ms for 9 s: three token lifetimes, so the connection must be renewed at least twice.
    for (let n = 0; n < 45; n++) {
      const ts = T0 + 100_000 + n * 1_000;
      const response = await fetch(`${bridge.httpUrl}/v1/readings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ device: 'renewing-1', ts, values: { n } }),
      });
      expect(response.status).toBe(204);
      expected.push({ device: 'renewing-1', metric: 'n', ts, value: n });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await pollUntil(
      async () => (await storedPoints(['renewing-1'])).length >= expected.length,
      'every reading to be stored',
      60_000,
      bridge.output,
    );
    expect((await storedPoints(['renewing-1'])).map(key).sort()).toEqual(expected.map(key).sort());
    const m = await bridgeMetrics(bridge.httpUrl);
    expect(m('telemetry_bridge_node_mqtt_token_renewals_total')).toBeGreaterThanOrEqual(2);
    expect(m('telemetry_bridge_node_mqtt_connects_total{result="connected"}')).toBeGreaterThanOrEqual(3);
    // Renewed in time: no message ever met an expired token.
    expect(m('telemetry_bridge_message_retries_total{code="ERR_TOKEN_EXPIRED"}')).toBe(0);
    expect(m('telemetry_bridge_node_mqtt_connects_total{result="refused"}')).toBe(0);
    expect(m('telemetry_bridge_readings_acknowledged_total')).toBe(45);
  }, 120_000);
});
