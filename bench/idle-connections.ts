/**
 * Memory per idle MQTT device connection on the embedded broker: a real `telemetry serve` child
 * (DuckDB store, registry of N device keys), N authenticated connections from this process, and
 * the node's RSS and V8 heap before and after, each after a full garbage collection.
 *
 *   npx tsx bench/idle-connections.ts [--connections 10000] [--quick]
 *
 * The node runs with `--inspect` on a loopback port so the bench can ask it for a full GC and its
 * `process.memoryUsage()` over the inspector protocol; nothing in the node changes for this.
 *
 * Three phases, so per-device state and per-connection state can be told apart:
 * 1. first connect: every device's key is imported into the registry's cache as it authenticates,
 *    so this delta holds the key cache as well as the connections;
 * 2. all disconnected: what stays (the key cache; anything else would be a leak);
 * 3. reconnect: the same devices again, keys cached, so this delta is the connections alone.
 *
 * The clients are lean: a net socket each, a CONNECT written with mqtt-packet, the CONNACK read,
 * then only PINGREQs (keepalive 60 s). mqtt.js clients would cost this process far more memory
 * than the node, which is what is measured.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { generate } from 'mqtt-packet';
import { freePort } from '../test/support/server-process.js';
import { connectionTokens, makeBenchFleet } from './support/bench-fleet.js';
import { type MeasuredServer, metricTotal, startBenchNode } from './support/bench-node.js';
import { printResult, progress, sectionArgs, sig } from './support/bench-result.js';
import { benchWorkspace } from './support/bench-setup.js';
import { NodeInspector } from './support/node-inspector.js';
import { benchRuntime } from './support/node-runtime.js';

const TARGET_KB = 30;
const KEEPALIVE_S = 60;
/** CONNECTs in flight at once: the node verifies a token per CONNECT, so more only queues there. */
const CONNECT_CONCURRENCY = 64;
const PINGREQ = Buffer.from([0xc0, 0x00]);

interface MemorySample {
  /** VmRSS from /proc, bytes. */
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
}

function vmRss(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? Number.NaN) * 1024;
}

/**
 * Full GC twice (the second collects what the first's finalizers freed), a moment to settle (`settleMs`: a second,
 * a quarter of one in the quick run), then a sample.
 */
async function settledMemory(inspector: NodeInspector, pid: number, settleMs: number): Promise<MemorySample> {
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  await inspector.collectGarbage();
  await inspector.collectGarbage();
  const usage = await inspector.memoryUsage();
  return { rss: vmRss(pid), heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external };
}

/** Opens one MQTT 3.1.1 connection and resolves once the CONNACK accepted it. */
function connectDevice(port: number, device: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.write(
        generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: device,
          clean: true,
          keepalive: KEEPALIVE_S,
          username: device,
          password: Buffer.from(token),
        }),
      );
    });
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4) return;
      socket.off('data', onData);
      socket.off('error', fail);
      // CONNACK: 0x20, remaining length 2, flags, return code [MQTT-3.2.2]
      if (received[0] !== 0x20 || received[3] !== 0) {
        fail(new Error(`${device}: CONNACK refused (return code ${received[3]})`));
        return;
      }
      socket.on('data', () => undefined); // PINGRESPs
      socket.on('error', () => undefined);
      resolve(socket);
    };
    socket.on('data', onData);
  });
}

/** Connects every device, adding each socket to `open` as soon as it is accepted (so it is pinged from then on). */
async function connectAll(
  port: number,
  devices: readonly string[],
  tokens: readonly string[],
  open: Set<Socket>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < devices.length) {
      const i = next++;
      const socket = await connectDevice(port, devices[i] as string, tokens[i] as string);
      open.add(socket);
      socket.once('close', () => open.delete(socket));
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, lane));
}

async function waitForConnections(server: MeasuredServer, expected: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const now = await metricTotal(server.httpUrl, 'telemetry_mqtt_connections');
    if (now === expected) return;
    if (Date.now() > deadline) throw new Error(`the node reports ${now} MQTT connections, expected ${expected}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function closeAll(sockets: Set<Socket>): void {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
}

const kb = (bytes: number, n: number) => sig(bytes / n / 1024);
const mb = (bytes: number) => sig(bytes / 2 ** 20);

/** The node's memory in the three phases (see the top of this file), and how long the first connect took. */
interface Phases {
  readonly baseline: MemorySample;
  readonly connected: MemorySample;
  readonly disconnected: MemorySample;
  readonly reconnected: MemorySample;
  readonly connectSeconds: number;
}

/** Connects every device, closes them all, connects them again, sampling the node's memory between. */
async function measurePhases(
  server: MeasuredServer,
  inspector: NodeInspector,
  fleet: { readonly connections: number; readonly devices: readonly string[]; readonly tokens: readonly string[] },
  sockets: Set<Socket>,
  settleMs: number,
): Promise<Phases> {
  const { connections, devices, tokens } = fleet;
  const port = Number(new URL(server.mqttUrl as string).port);
  const baseline = await settledMemory(inspector, server.pid, settleMs);
  const t0 = performance.now();
  await connectAll(port, devices, tokens, sockets);
  const connectSeconds = (performance.now() - t0) / 1000;
  await waitForConnections(server, connections);
  const connected = await settledMemory(inspector, server.pid, settleMs);
  progress(`idle-connections: ${connections} connected in ${connectSeconds.toFixed(1)} s`);

  closeAll(sockets);
  await waitForConnections(server, 0);
  const disconnected = await settledMemory(inspector, server.pid, settleMs);

  await connectAll(port, devices, tokens, sockets);
  await waitForConnections(server, connections);
  const reconnected = await settledMemory(inspector, server.pid, settleMs);
  return { baseline, connected, disconnected, reconnected, connectSeconds };
}

/** Prints the per-connection costs of the phases, and the section's result line. */
function reportPhases(connections: number, phases: Phases): void {
  const { baseline, connected, disconnected, reconnected, connectSeconds } = phases;
  const first = {
    rssKB: kb(connected.rss - baseline.rss, connections),
    heapUsedKB: kb(connected.heapUsed - baseline.heapUsed, connections),
    externalKB: kb(connected.external - baseline.external, connections),
  };
  const again = {
    rssKB: kb(reconnected.rss - disconnected.rss, connections),
    heapUsedKB: kb(reconnected.heapUsed - disconnected.heapUsed, connections),
    externalKB: kb(reconnected.external - disconnected.external, connections),
  };
  const retained = {
    rssKB: kb(disconnected.rss - baseline.rss, connections),
    heapUsedKB: kb(disconnected.heapUsed - baseline.heapUsed, connections),
  };
  const lines = [
    `connections: ${connections} (EdDSA registry keys, keepalive ${KEEPALIVE_S} s), connected in ${sig(connectSeconds)} s`,
    `baseline: RSS ${mb(baseline.rss)} MB, heap used ${mb(baseline.heapUsed)} MB`,
    `first connect:  RSS +${mb(connected.rss - baseline.rss)} MB = ${first.rssKB} KB/connection, heap +${first.heapUsedKB} KB/connection (includes each device's imported key)`,
    `all closed:     RSS ${mb(disconnected.rss)} MB, heap ${mb(disconnected.heapUsed)} MB (still ${retained.heapUsedKB} KB heap per device: the key cache)`,
    `reconnect:      RSS +${mb(reconnected.rss - disconnected.rss)} MB = ${again.rssKB} KB/connection, heap +${again.heapUsedKB} KB/connection (connections alone)`,
    `target: < ${TARGET_KB} KB per connection`,
  ];
  for (const line of lines) process.stdout.write(`${line}\n`);
  const markdown = [
    '| phase | RSS, MB | heap used, MB | RSS per connection, KB | heap per connection, KB |',
    '|---|---:|---:|---:|---:|',
    `| baseline (node up, no connections) | ${mb(baseline.rss)} | ${mb(baseline.heapUsed)} | | |`,
    `| ${connections} connected (first time: keys imported too) | ${mb(connected.rss)} | ${mb(connected.heapUsed)} | ${first.rssKB} | ${first.heapUsedKB} |`,
    `| all closed | ${mb(disconnected.rss)} | ${mb(disconnected.heapUsed)} | | |`,
    `| ${connections} reconnected (connections alone) | ${mb(reconnected.rss)} | ${mb(reconnected.heapUsed)} | ${again.rssKB} | ${again.heapUsedKB} |`,
    '',
    `Target < ${TARGET_KB} KB per idle connection. Memory after two full GCs (inspector), RSS from /proc; keepalive ${KEEPALIVE_S} s, EdDSA registry keys.`,
  ].join('\n');
  printResult({
    section: 'idle-connections',
    connections,
    baselineRssMB: mb(baseline.rss),
    baselineHeapUsedMB: mb(baseline.heapUsed),
    firstConnect: first,
    reconnect: again,
    retainedAfterClose: retained,
    connectSeconds: sig(connectSeconds),
    targets: { perConnectionKB: TARGET_KB, met: Math.max(first.rssKB, first.heapUsedKB) < TARGET_KB },
    markdown,
  });
}

async function main(): Promise<void> {
  const args = sectionArgs();
  const connections = Number(args.values.get('connections') ?? (args.quick ? 300 : 10_000));
  const began = performance.now();
  progress(`idle-connections: generating ${connections} EdDSA device keys and connection tokens`);
  const fleet = await makeBenchFleet({ devices: connections, alg: 'EdDSA', prefix: 'idle' });
  const tokens = await connectionTokens(fleet);
  const devices = fleet.signers.map((s) => s.device);
  const workspace = await benchWorkspace([fleet]);
  const inspectPort = await freePort();
  let server: MeasuredServer | undefined;
  let inspector: NodeInspector | undefined;
  const sockets = new Set<Socket>();
  // Connecting thousands takes longer than a keepalive period on a busy machine: ping from the start.
  const ping = setInterval(
    () => {
      for (const socket of sockets) socket.write(PINGREQ);
    },
    (KEEPALIVE_S * 1000) / 3,
  );
  try {
    server = await startBenchNode({
      runtime: benchRuntime(),
      store: { kind: 'duckdb' },
      registryFile: workspace.registryFile,
      env: { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}` },
    });
    inspector = await NodeInspector.atPort(inspectPort);
    progress(`idle-connections: node up in ${Math.round(performance.now() - began)} ms; measuring`);
    reportPhases(
      connections,
      await measurePhases(server, inspector, { connections, devices, tokens }, sockets, args.quick ? 250 : 1_000),
    );
  } finally {
    clearInterval(ping);
    closeAll(sockets);
    inspector?.close();
    await server?.stop();
    await workspace.remove();
  }
}

await main();
