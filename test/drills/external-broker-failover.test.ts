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
import { freePort } from '../support/server-process.js';
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
/** How often the restarted node's counter is read while it works through its backlog. */
const SAMPLE_MS = 50;
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

/** Resolves once none of `nodes` has accepted a message for `quietMs` (they have worked off what the broker had for them). */
async function untilQuiet(nodes: readonly ServeProcess[], quietMs: number, what: string): Promise<void> {
  let last = '';
  let since = Date.now();
  await pollUntil(
    async () => {
      const now = JSON.stringify(await Promise.all(nodes.map(async (node) => countersOf(node.httpUrl))));
      if (now !== last) [last, since] = [now, Date.now()];
      return Date.now() - since >= quietMs;
    },
    what,
    30_000,
  );
}

/**
 * Reads the restarted node's accepted-message counter every SAMPLE_MS from its spawn on (its HTTP port is known in
 * advance), so the rate at which it works off its backlog can be computed once it is done.
 */
function sampleAccepted(httpUrl: string): { stop(): Array<{ at: number; accepted: number }> } {
  const samples: Array<{ at: number; accepted: number }> = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      try {
        samples.push({ at, accepted: (await countersOf(httpUrl)).accepted });
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, at + SAMPLE_MS - Date.now())));
    }
  })();
  cleanups.push(() => loop);
  return {
    stop() {
      running = false;
      return samples;
    },
  };
}

/** Messages a second between the first sample that saw a message accepted and the one that saw the last. */
function drainRate(samples: ReadonlyArray<{ at: number; accepted: number }>): {
  messages: number;
  ms: number;
  perSecond: number;
} {
  const final = samples.at(-1)?.accepted ?? 0;
  const first = samples.findIndex((sample) => sample.accepted > 0);
  const done = samples.find((sample) => sample.accepted === final);
  // The message counted in the first sample came in during the interval before it.
  const from = first <= 0 ? undefined : samples[first - 1];
  if (from === undefined || done === undefined) return { messages: final, ms: 0, perSecond: 0 };
  const ms = done.at - from.at;
  return { messages: final - from.accepted, ms, perSecond: Math.round(((final - from.accepted) / ms) * 1000) };
}

describe('three ingest nodes on a Mosquitto shared subscription, VictoriaMetrics as the shared store', () => {
  it('loses no acknowledged reading and stores none twice when a node is killed -9 mid-run and comes back with its client id', async () => {
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
    // Fixed HTTP ports, so the restarted node's counters can be read from the moment it starts.
    const nodes: Array<{ name: string; clientId: string; httpPort: number }> = [];
    for (const name of ['a', 'b', 'c'])
      nodes.push({ name, clientId: `${shareGroup}-${name}`, httpPort: await freePort() });
    const serve = async (node: (typeof nodes)[number]): Promise<ServeProcess> => {
      const started = await startServe({
        cwd: dir,
        env: {
          ...storeEnv,
          TELEMETRY_MQTT: 'external',
          TELEMETRY_MQTT_BROKER_URL: broker.url,
          TELEMETRY_MQTT_SHARE_GROUP: shareGroup,
          TELEMETRY_MQTT_CLIENT_ID: node.clientId,
          TELEMETRY_MQTT_CONNECTIONS: String(CONNECTIONS),
          TELEMETRY_KEY_REGISTRY: join(dir, 'registry.jwks.json'),
          TELEMETRY_HTTP_PORT: String(node.httpPort),
          TELEMETRY_DATA_DIR: join(dir, `node-${node.name}`),
          TELEMETRY_BATCH_MAX_WAIT_MS: '5',
          TELEMETRY_LOG_LEVEL: 'warn',
        },
      });
      cleanups.push(() => started.stop('SIGKILL'));
      return started;
    };
    const [victimBefore, ...survivors] = await Promise.all(nodes.map(serve));

    // Devices publish to Mosquitto: their PUBACK comes from the broker, whatever happens to the nodes.
    const fleet = await readFleet(dir);
    const run = startRun(
      await testRunOptions(dir, {
        fleet,
        transport: 'mqtt',
        url: broker.url,
        durationMs: RUN_MS,
        rampMs: 1_000,
        seed: 'external-broker-failover',
        drainTimeoutMs: 20_000,
      }),
    );
    const began = Date.now();

    await pollUntil(
      async () => run.snapshot().elapsedMs >= KILL_AT_MS,
      'the run to reach the kill',
      KILL_AT_MS + 10_000,
    );
    const victim = victimBefore as ServeProcess;
    await pollUntil(
      async () => (await countersOf(victim.httpUrl)).accepted > 0,
      'the node to kill to have stored some',
    );
    const acceptedBeforeKill = (await countersOf(victim.httpUrl)).accepted;
    expect(await victim.stop('SIGKILL')).toBeNull();
    const killedAt = Date.now() - began;

    const report = await run.done;
    const loadEndedAt = Date.now() - began;
    const store = await openStore(parseConfig(storeEnv));
    cleanups.push(() => store.close());
    const audit = async (): Promise<VerificationReport> => {
      await vm.flush();
      return verifyRun(report, { source: store, sourceKind: 'store' });
    };

    // The load is over and the two live nodes have worked off their share. What is still missing is what the
    // broker keeps for the dead node's client id: in flight to it when it died (redelivered with DUP) and, as
    // Mosquitto 2.0 goes on routing a disconnected member's share to its session, queued for it since.
    await untilQuiet(survivors as ServeProcess[], 1_000, 'the surviving nodes to work off their share');
    const whileDown = await audit();

    const sampler = sampleAccepted(`http://127.0.0.1:${nodes[0]?.httpPort}`);
    const restartBegunAt = Date.now() - began;
    const victimAgain = await serve(nodes[0] as (typeof nodes)[number]);
    await pollUntil(
      async () => (await audit()).acknowledged.missing === 0,
      'the restarted node to store what the broker kept for it',
      30_000,
    );
    await untilQuiet([victimAgain], 500, 'the restarted node to finish');
    const drain = drainRate(sampler.stop());
    const restarted = await countersOf(victimAgain.httpUrl);
    const verified = await audit();

    console.info(
      'external-broker drill',
      JSON.stringify({
        connectionsPerNode: CONNECTIONS,
        killedAt,
        loadEndedAt,
        restartBegunAt,
        durationMs: Date.now() - began,
        acceptedBeforeKill,
        run: {
          acknowledged: report.totals.messagesAcknowledged,
          readingsAcknowledged: report.totals.readingsAcknowledged,
          messagesPerSecond: report.throughput.messagesPerSecond,
          retries: report.retries,
          connects: report.totals.connects,
          disconnects: report.totals.disconnects,
        },
        heldForKilledNode: { values: whileDown.acknowledged.missing },
        restartedNode: { ...restarted, drain },
        verified: verified.acknowledged,
      }),
    );

    // Retries are not expected at all: the devices' broker never went away.
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.totals.devicesConnected).toBe(DEVICES);
    expect(report.totals.disconnects).toBe(0);
    expect(report.totals.readingsAcknowledged).toBe(report.totals.readingsSampled);
    // The broker kept the dead node's share for its client id, and the others did not take it over...
    expect(whileDown.acknowledged.missing).toBeGreaterThan(0);
    // ...the node that came back with that client id got it (no new message was published since) and stored it.
    expect(restarted.accepted).toBeGreaterThan(0);
    expect(verified.acknowledged).toMatchObject({ missing: 0, duplicated: 0, wrongValue: 0 });
    expect(verified.acknowledged.expected).toBeGreaterThan(0);
    expect(verified.acknowledged.storedOnce).toBe(verified.acknowledged.expected);
    expect(verified.ok).toBe(true);
  }, 120_000);
});
