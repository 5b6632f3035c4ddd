import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  provisionFleet,
  type RunHandle,
  type RunReport,
  readFleet,
  startRun,
  type VerificationReport,
  verifyRun,
} from '../../simulator/index.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { openStore } from '../../src/store/open-store.js';
import { testRunOptions } from '../simulator/fleet-node.js';
import { type BalancedNode, type HaproxyServer, startHaproxy } from '../support/haproxy-server.js';
import { pollUntil } from '../support/poll-until.js';
import { acceptedBy, type ServeProcess, startServe } from '../support/serve-process.js';
import { freePort } from '../support/server-process.js';
import { startVictoriaMetrics } from '../support/victoria-metrics-server.js';

/** Everything the test started, stopped in reverse order after it. */
let cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

const DEVICES = 30;
// Long enough after the restart that a node slow to start on a loaded machine still sees traffic.
const RUN_MS = 20_000;
const KILL_AT_MS = 5_000;
const RESTART_AT_MS = 8_000;

/** Whether HAProxy's checks see `node` as `status` in both backends. */
async function seenAs(haproxy: HaproxyServer, node: BalancedNode, status: 'UP' | 'DOWN'): Promise<boolean> {
  const rows = (await haproxy.stats()).filter((row) => row.server === node.name);
  return rows.length === 2 && rows.every((row) => row.status.startsWith(status));
}

async function untilElapsed(run: RunHandle, ms: number, what: string): Promise<void> {
  await pollUntil(async () => run.snapshot().elapsedMs >= ms, what, ms + 10_000);
}

describe('three ingest nodes behind HAProxy, VictoriaMetrics as the shared store', () => {
  it('loses no acknowledged reading and stores none twice when a node is killed -9 mid-run and comes back', async () => {
    const vm = await startVictoriaMetrics();
    cleanups.push(() => vm.stop());
    const dir = await mkdtemp(join(tmpdir(), 'drill-haproxy-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await provisionFleet({
      dir,
      devices: DEVICES,
      alg: 'mixed',
      kinds: ['thermo', 'meter', 'gps'],
      keySource: 'registry',
      seed: 'haproxy-failover',
      credentialTtlSeconds: 86_400,
      now: Date.now(),
    });

    // Fixed ports per node, so the node restarted after the kill comes back where HAProxy looks for it.
    const nodes: BalancedNode[] = [];
    for (const name of ['a', 'b', 'c']) nodes.push({ name, httpPort: await freePort(), mqttPort: await freePort() });
    const storeEnv = {
      TELEMETRY_STORE: 'influxdb',
      TELEMETRY_INFLUX_URL: vm.url,
      TELEMETRY_INFLUX_QUERY: 'victoriametrics',
    };
    const running = new Map<string, ServeProcess>();
    const serve = async (node: BalancedNode): Promise<ServeProcess> => {
      const started = await startServe({
        cwd: dir,
        env: {
          ...storeEnv,
          TELEMETRY_KEY_REGISTRY: join(dir, 'registry.jwks.json'),
          TELEMETRY_HTTP_HOST: '127.0.0.1',
          TELEMETRY_HTTP_PORT: String(node.httpPort),
          TELEMETRY_MQTT_HOST: '127.0.0.1',
          TELEMETRY_MQTT_PORT: String(node.mqttPort),
          TELEMETRY_DATA_DIR: join(dir, `node-${node.name}`),
          TELEMETRY_BATCH_MAX_WAIT_MS: '5',
          TELEMETRY_LOG_LEVEL: 'warn',
        },
      });
      running.set(node.name, started);
      cleanups.push(() => started.stop('SIGKILL'));
      return started;
    };
    await Promise.all(nodes.map(serve));
    const haproxy = await startHaproxy(nodes);
    cleanups.push(() => haproxy.stop());
    await pollUntil(
      async () => (await Promise.all(nodes.map((node) => seenAs(haproxy, node, 'UP')))).every(Boolean),
      'HAProxy to see every node up',
      10_000,
    );

    // Half the fleet over HTTP, half over MQTT, both through HAProxy, at the same time.
    const fleet = await readFleet(dir);
    const half = DEVICES / 2;
    const options = async (transport: 'http' | 'mqtt', devices: typeof fleet.devices, url: string) =>
      testRunOptions(dir, {
        fleet: { ...fleet, devices },
        transport,
        url,
        durationMs: RUN_MS,
        rampMs: 1_000,
        seed: `haproxy-failover-${transport}`,
        drainTimeoutMs: 20_000,
      });
    const httpRun = startRun(await options('http', fleet.devices.slice(0, half), haproxy.httpUrl));
    const mqttRun = startRun(await options('mqtt', fleet.devices.slice(half), haproxy.mqttUrl));
    const began = Date.now();

    const victim = nodes[0] as BalancedNode;
    const victimBefore = running.get(victim.name) as ServeProcess;
    await untilElapsed(httpRun, KILL_AT_MS, 'the run to reach the kill');
    // The node to kill really carries both kinds of traffic.
    await pollUntil(
      async () => (await acceptedBy(victimBefore, 'http')) > 0 && (await acceptedBy(victimBefore, 'mqtt')) > 0,
      'the node to kill to have accepted messages over HTTP and MQTT',
      5_000,
    );
    const acceptedBeforeKill = {
      http: await acceptedBy(victimBefore, 'http'),
      mqtt: await acceptedBy(victimBefore, 'mqtt'),
    };
    expect(await victimBefore.stop('SIGKILL')).toBeNull();
    const killedAt = Date.now() - began;
    await pollUntil(async () => seenAs(haproxy, victim, 'DOWN'), 'HAProxy to take the dead node out', 5_000);

    await untilElapsed(httpRun, RESTART_AT_MS, 'the run to reach the restart');
    const restartBegunAt = Date.now() - began;
    const victimAgain = await serve(victim);
    const restartedAt = Date.now() - began;
    await pollUntil(async () => seenAs(haproxy, victim, 'UP'), 'HAProxy to take the node back', 10_000);
    // Round robin sends HTTP to it again; its MQTT share only grows as devices reconnect, so it is not asked for.
    await pollUntil(async () => (await acceptedBy(victimAgain, 'http')) > 0, 'the restarted node to take messages');

    const [httpReport, mqttReport] = await Promise.all([httpRun.done, mqttRun.done]);
    const durationMs = Date.now() - began;

    const store = await openStore(parseConfig(storeEnv));
    cleanups.push(() => store.close());
    await vm.flush();
    const audit = async (report: RunReport): Promise<VerificationReport> =>
      verifyRun(report, { source: store, sourceKind: 'store' });
    const [httpVerified, mqttVerified] = [await audit(httpReport), await audit(mqttReport)];

    const summary = (report: RunReport, verified: VerificationReport) => ({
      acknowledged: report.totals.messagesAcknowledged,
      readingsAcknowledged: report.totals.readingsAcknowledged,
      retries: report.retries,
      connects: report.totals.connects,
      disconnects: report.totals.disconnects,
      verified: verified.acknowledged,
    });
    console.info(
      'haproxy drill',
      JSON.stringify({
        killedAt,
        restartBegunAt,
        restartedAt,
        durationMs,
        acceptedBeforeKill,
        http: summary(httpReport, httpVerified),
        mqtt: summary(mqttReport, mqttVerified),
        haproxy: await haproxy.stats(),
      }),
    );

    for (const [report, verified] of [
      [httpReport, httpVerified],
      [mqttReport, mqttVerified],
    ] as const) {
      // Retries are expected (that is the drill); nothing else may go wrong.
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.totals.devicesConnected).toBe(half);
      expect(report.totals.readingsAcknowledged).toBe(report.totals.readingsSampled);
      expect(verified.acknowledged).toMatchObject({ missing: 0, duplicated: 0, wrongValue: 0 });
      expect(verified.acknowledged.expected).toBeGreaterThan(0);
      expect(verified.acknowledged.storedOnce).toBe(verified.acknowledged.expected);
      expect(verified.ok).toBe(true);
    }
    // The devices on the dead node lost their connections and reconnected through HAProxy to the others.
    expect(mqttReport.totals.disconnects).toBeGreaterThan(0);
    expect(mqttReport.totals.connects).toBeGreaterThan(half);
  }, 90_000);
});
