import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { provisionFleet, readFleet, startRun, type VerificationReport, verifyRun } from '../../simulator/index.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { openStore } from '../../src/store/open-store.js';
import { testRunOptions } from '../simulator/fleet-node.js';
import { startMosquitto } from '../support/mosquitto-server.js';
import { pollUntil } from '../support/poll-until.js';
import { metricsOf, type ServeProcess, startServe } from '../support/serve-process.js';
import { startVictoriaMetrics } from '../support/victoria-metrics-server.js';

/** Everything the test started, stopped in reverse order after it. */
let cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

const DEVICES = 30;
const RUN_MS = 15_000;
const KILL_AT_MS = 4_000;
/** How long a device waits for the node's end-to-end acknowledgement before it resends the same bytes. */
const ACK_TIMEOUT_MS = 3_000;
/** Broker connections per node: the node's default, or TELEMETRY_MQTT_CONNECTIONS from the environment to compare. */
const CONNECTIONS = parseConfig(
  process.env.TELEMETRY_MQTT_CONNECTIONS === undefined
    ? {}
    : { TELEMETRY_MQTT_CONNECTIONS: process.env.TELEMETRY_MQTT_CONNECTIONS },
).mqttConnections;

/** What a node process has done over MQTT so far, from its /metrics. */
async function countersOf(httpUrl: string): Promise<{ accepted: number; written: number }> {
  const value = await metricsOf(httpUrl);
  return {
    accepted: value('telemetry_messages_accepted_total{transport="mqtt"}'),
    written: value('telemetry_readings_written_total'),
  };
}

/**
 * Three nodes on one Mosquitto share group, VictoriaMetrics as their store, 30 devices publishing QoS 1 with
 * end-to-end acknowledgements; node a is killed -9 at KILL_AT_MS and, when `restart`, started again at
 * RESTART_AT_MS. Returns what the drill saw, after checking the store against every acknowledged reading.
 */
async function drill(restart: boolean): Promise<void> {
  const [vm, broker] = await Promise.all([startVictoriaMetrics(), startMosquitto()]);
  cleanups.push(
    () => vm.stop(),
    () => broker.stop(),
  );
  const dir = await mkdtemp(join(tmpdir(), 'drill-external-broker-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await provisionFleet({
    dir,
    devices: DEVICES,
    alg: 'mixed',
    kinds: ['thermo', 'meter', 'gps'],
    keySource: 'registry',
    seed: 'external-broker-failover',
    credentialTtlSeconds: 86_400,
    now: Date.now(),
  });

  const storeEnv = {
    TELEMETRY_STORE: 'influxdb',
    TELEMETRY_INFLUX_URL: vm.url,
    TELEMETRY_INFLUX_QUERY: 'victoriametrics',
  };
  const shareGroup = `drill-${process.pid}`;
  const serve = async (name: string): Promise<ServeProcess> => {
    const started = await startServe({
      cwd: dir,
      timeoutMs: 90_000,
      env: {
        ...storeEnv,
        TELEMETRY_MQTT: 'external',
        TELEMETRY_MQTT_BROKER_URL: broker.url,
        TELEMETRY_MQTT_SHARE_GROUP: shareGroup,
        TELEMETRY_MQTT_CONNECTIONS: String(CONNECTIONS),
        TELEMETRY_KEY_REGISTRY: join(dir, 'registry.jwks.json'),
        TELEMETRY_DATA_DIR: join(dir, `node-${name}`),
        TELEMETRY_LOG_LEVEL: 'warn',
      },
    });
    cleanups.push(() => started.stop('SIGKILL'));
    return started;
  };
  const [victim, ...survivors] = await Promise.all(['a', 'b', 'c'].map(serve));

  // Devices publish to Mosquitto; what they count as delivered is the node's acknowledgement on devices/{id}/acks.
  const fleet = await readFleet(dir);
  const run = startRun(
    await testRunOptions(dir, {
      fleet,
      transport: 'mqtt',
      url: broker.url,
      mqttAcks: 'end-to-end',
      ackTimeoutMs: ACK_TIMEOUT_MS,
      durationMs: RUN_MS,
      rampMs: 1_000,
      seed: 'external-broker-failover',
      drainTimeoutMs: 20_000,
    }),
  );
  const began = Date.now();
  const at = (ms: number, what: string) => pollUntil(async () => run.snapshot().elapsedMs >= ms, what, ms + 10_000);

  await at(KILL_AT_MS, 'the run to reach the kill');
  const killedNode = victim as ServeProcess;
  await pollUntil(
    async () => (await countersOf(killedNode.httpUrl)).accepted > 0,
    'the node to kill to have stored some',
  );
  const acceptedBeforeKill = (await countersOf(killedNode.httpUrl)).accepted;
  expect(await killedNode.stop('SIGKILL')).toBeNull();
  const killedAt = Date.now() - began;

  let restarted: { accepted: number; written: number } | undefined;
  let restartedNode: ServeProcess | undefined;
  let restartedAt: number | undefined;
  if (restart) {
    // A new process, a new connection: nothing is resumed. Started at once, so it is up while the load goes on.
    restartedNode = await serve('a');
    restartedAt = Date.now() - began;
  }
  const report = await run.done;
  const loadEndedAt = Date.now() - began;
  if (restartedNode !== undefined) restarted = await countersOf(restartedNode.httpUrl);
  const survivorCounters = await Promise.all(survivors.map(async (node) => countersOf((node as ServeProcess).httpUrl)));

  const store = await openStore(parseConfig(storeEnv));
  cleanups.push(() => store.close());
  await vm.flush();
  const verified: VerificationReport = await verifyRun(report, { source: store, sourceKind: 'store' });

  console.info(
    'external-broker drill',
    JSON.stringify({
      restart,
      connectionsPerNode: CONNECTIONS,
      ackTimeoutMs: ACK_TIMEOUT_MS,
      killedAt,
      ...(restartedAt === undefined ? {} : { restartedAt }),
      loadEndedAt,
      durationMs: Date.now() - began,
      acceptedBeforeKill,
      run: {
        acknowledged: report.totals.messagesAcknowledged,
        readingsAcknowledged: report.totals.readingsAcknowledged,
        readingsSampled: report.totals.readingsSampled,
        messagesPerSecond: report.throughput.messagesPerSecond,
        retries: report.retries,
        connects: report.totals.connects,
        disconnects: report.totals.disconnects,
        problems: report.problems,
      },
      survivors: survivorCounters,
      ...(restarted === undefined ? {} : { restartedNode: restarted }),
      verified: verified.acknowledged,
    }),
  );

  // The devices' broker never went away: no device lost its connection.
  expect(report.totals.devicesConnected).toBe(DEVICES);
  expect(report.totals.disconnects).toBe(0);
  // Nothing is left waiting: every reading sampled was acknowledged end to end before the run ended...
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.totals.readingsAcknowledged).toBe(report.totals.readingsSampled);
  // ...and every acknowledged reading is in the store exactly once.
  expect(verified.acknowledged).toMatchObject({ missing: 0, duplicated: 0, wrongValue: 0 });
  expect(verified.acknowledged.expected).toBeGreaterThan(0);
  expect(verified.acknowledged.storedOnce).toBe(verified.acknowledged.expected);
  expect(verified.ok).toBe(true);
  // The survivors took the load after the kill.
  for (const counters of survivorCounters) expect(counters.accepted).toBeGreaterThan(0);
  if (restarted !== undefined) expect(restarted.accepted).toBeGreaterThan(0);
}

describe('three ingest nodes on a Mosquitto shared subscription, VictoriaMetrics as the shared store', () => {
  it('loses no acknowledged reading, stores none twice and leaves nothing waiting when a node is killed -9 for good', async () => {
    await drill(false);
  }, 240_000);

  it('does the same when the killed node comes back mid-run as a new process', async () => {
    await drill(true);
  }, 240_000);
});
