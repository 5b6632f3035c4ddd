/**
 * Where an ingest node's CPU goes under load: a real `telemetry serve` child (registry keys,
 * DuckDB or VictoriaMetrics store) driven at saturation over HTTP (autocannon, closed loop) or MQTT
 * (QoS 1 window per device) with pre-signed messages, its stacks sampled over the measurement
 * window, and the profile summarised by self time: top functions, and time by area (node:crypto,
 * our protocol code, fastify/HTTP, the store, GC, ...).
 *
 *   npx tsx bench/cpu-profile.ts [--alg ES256|EdDSA] [--transport http|mqtt] [--store duckdb|victoriametrics]
 *     [--readings 1] [--seconds 10] [--rate <msg/s>] [--quick] [--keep <file.cpuprofile>]
 *
 * `--rate` offers that many messages a second (open loop, as the latency section does) instead of saturating.
 *
 * The node runs with `--inspect` on a loopback port and is profiled over the inspector for exactly
 * the measurement window (what `node --cpu-prof` records, minus start-up and shutdown). The
 * profile is written to the temporary folder (or to `--keep <file>`) to open in Chrome DevTools.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { DeviceAlgorithm } from '../src/index.js';
import { freePort } from '../test/support/server-process.js';
import {
  type CpuProfile,
  type CpuProfileSummary,
  formatCpuProfileSummary,
  summarizeCpuProfile,
} from './cpu-profile-summary.js';
import {
  type BenchFleet,
  connectionTokens,
  type MessagePool,
  makeBenchFleet,
  signMessagePool,
} from './support/bench-fleet.js';
import { type MeasuredServer, startBenchNode } from './support/bench-node.js';
import { printResult, progress, type SectionArgs, sectionArgs, sig } from './support/bench-result.js';
import { benchWorkspace, tryVictoriaMetrics } from './support/bench-setup.js';
import { saturateHttp } from './support/http-load.js';
import { type LoadWindow, windowRates } from './support/load-window.js';
import { connectDevices, disconnectDevices, type MqttDevice, saturateMqtt } from './support/mqtt-load.js';
import { NodeInspector } from './support/node-inspector.js';
import { benchRuntime } from './support/node-runtime.js';
import { httpLatency, mqttLatency } from './support/open-loop.js';
import type { Transport } from './support/saturation.js';

const DEVICES = 200;
const HTTP_CONNECTIONS = 32;
const MQTT_WINDOW_PER_DEVICE = 2;
/** Rough saturation rates (messages/s) to size the pool; beyond them the pool wraps. */
const EXPECTED_RATE: Readonly<Record<number, number>> = { 1: 6000, 10: 4000, 100: 1000 };
/** Sampling interval: fine enough for a 2 s window, coarse enough not to slow the node much. */
const SAMPLING_INTERVAL_US = 250;

/** What to profile, from the command line. */
interface ProfileSettings {
  readonly alg: DeviceAlgorithm;
  readonly measureS: number;
  readonly warmupS: number;
  readonly transport: Transport;
  readonly storeKind: 'duckdb' | 'victoriametrics';
  readonly readings: number;
  /** Messages a second offered at a fixed rate (open loop); undefined: driven at saturation. */
  readonly rate: number | undefined;
  /** Where the profile is written. */
  readonly output: string;
}

function profileSettings(args: SectionArgs): ProfileSettings {
  const alg = (args.values.get('alg') ?? 'ES256') as DeviceAlgorithm;
  const measureS = Number(args.values.get('seconds') ?? (args.quick ? 1 : 10));
  const warmupS = args.quick ? 0.5 : 3;
  const transport = (args.values.get('transport') ?? 'http') as Transport;
  const storeKind = args.values.get('store') ?? 'duckdb';
  const readings = Number(args.values.get('readings') ?? 1);
  const rateArg = args.values.get('rate');
  const rate = rateArg === undefined ? undefined : Number(rateArg);
  if (rate !== undefined && !(rate > 0)) throw new Error('--rate is a positive number of messages a second');
  if (transport !== 'http' && transport !== 'mqtt') throw new Error('--transport is http or mqtt');
  if (storeKind !== 'duckdb' && storeKind !== 'victoriametrics')
    throw new Error('--store is duckdb or victoriametrics');
  if (!Number.isInteger(readings) || readings < 1) throw new Error('--readings is a positive integer');
  const output =
    args.values.get('keep') ??
    join(tmpdir(), `telemetry-cpu-profile-${alg}-${transport}-${storeKind}-${readings}.cpuprofile`);
  return { alg, measureS, warmupS, transport, storeKind, readings, rate, output };
}

/** The fleet, its messages signed beforehand, and its MQTT connection tokens (MQTT only). */
interface SignedLoad {
  readonly fleet: BenchFleet;
  readonly pool: MessagePool;
  readonly tokens: string[] | undefined;
}

/** Signs the messages of the run beforehand, and the MQTT connection tokens when the transport is MQTT. */
async function signLoad(settings: ProfileSettings): Promise<SignedLoad> {
  const { alg, readings, warmupS, measureS, transport } = settings;
  progress(`cpu-profile: signing ${readings}-reading ${alg} messages for ${DEVICES} devices`);
  const fleet = await makeBenchFleet({ devices: DEVICES, alg });
  // Enough for the expected rate over the whole run; beyond that the pool wraps (resent readings are cheaper to store).
  const perDevice = Math.ceil(((warmupS + measureS + 1) * (EXPECTED_RATE[readings] ?? 2_000)) / DEVICES);
  const pool = await signMessagePool(fleet, {
    readingsPerMessage: readings,
    messagesPerDevice: perDevice,
    startTs: Date.now() - 3_600_000,
  });
  const tokens = transport === 'mqtt' ? await connectionTokens(fleet) : undefined;
  return { fleet, pool, tokens };
}

/**
 * Drives the node at saturation for the warm-up and the measurement window, and profiles it over
 * exactly the measurement window (the same window as the throughput and CPU figures).
 */
async function profileUnderLoad(
  settings: ProfileSettings,
  server: MeasuredServer,
  profiler: NodeInspector,
  { pool, tokens }: SignedLoad,
): Promise<{ window: LoadWindow; profile: CpuProfile }> {
  const { warmupS, measureS, transport } = settings;
  // MQTT devices connect (and their tokens are verified) before the load and the profile start.
  const devices =
    transport === 'mqtt' && server.mqttUrl !== undefined && tokens !== undefined
      ? await connectDevices(server.mqttUrl, pool.devices, tokens)
      : undefined;
  progress(`cpu-profile: loading the node for ${warmupS} + ${measureS} s, profiling the last ${measureS} s`);
  // The profile is taken over the same window as the throughput and CPU figures.
  const profiled = new Promise<CpuProfile>((resolve, reject) => {
    setTimeout(() => {
      profiler
        .startProfiling(SAMPLING_INTERVAL_US)
        .then(() => new Promise((settle) => setTimeout(settle, measureS * 1000)))
        .then(() => profiler.stopProfiling())
        .then(resolve, reject);
    }, warmupS * 1000);
  });
  let window: LoadWindow;
  try {
    if (settings.rate !== undefined) {
      window = await openLoopWindow(settings, server, pool, devices, settings.rate);
    } else {
      window =
        devices === undefined
          ? await saturateHttp({ server, messages: pool.interleaved, connections: HTTP_CONNECTIONS, warmupS, measureS })
          : await saturateMqtt({
              server,
              devices,
              messages: pool.byDevice,
              windowPerDevice: MQTT_WINDOW_PER_DEVICE,
              warmupS,
              measureS,
            });
    }
  } finally {
    if (devices !== undefined) await disconnectDevices(devices);
  }
  return { window, profile: await profiled };
}

/**
 * Offers `rate` messages a second (open loop, as §5 does) for the warm-up and the window; the window's figures are
 * the node's CPU and the messages acknowledged after the warm-up.
 */
async function openLoopWindow(
  settings: ProfileSettings,
  server: MeasuredServer,
  pool: MessagePool,
  devices: MqttDevice[] | undefined,
  rate: number,
): Promise<LoadWindow> {
  const { warmupS, measureS } = settings;
  let cpuAtWarmupEnd = 0;
  const mark = setTimeout(() => {
    cpuAtWarmupEnd = server.cpuSeconds();
  }, warmupS * 1000);
  const shape = { rate, warmupS, measureS };
  const latency =
    devices === undefined
      ? await httpLatency({ ...shape, httpUrl: server.httpUrl, messages: pool.interleaved })
      : await mqttLatency({ ...shape, devices, messages: pool.byDevice });
  clearTimeout(mark);
  return {
    acknowledged: latency.acknowledged,
    failed: latency.failed,
    seconds: measureS,
    serverCpuSeconds: server.cpuSeconds() - cpuAtWarmupEnd,
    storeCpuSeconds: 0,
    loadCpuSeconds: 0,
    poolWraps: 0,
  };
}

/** The section's Markdown: time by area, then the top functions. */
function profileMarkdown(title: string, summary: CpuProfileSummary): string {
  const table = (rows: readonly { name: string; percent: number }[]) =>
    rows.map((r) => `| ${r.name.replaceAll('|', '\\|')} | ${sig(r.percent)}% |`).join('\n');
  return [
    title,
    '',
    '| area (self time of the main thread) | share |',
    '|---|---:|',
    table(summary.areas),
    '',
    '| top functions by self time | share |',
    '|---|---:|',
    table(summary.functions.slice(0, 15)),
  ].join('\n');
}

/** Writes the profile, prints its summary, and prints the section's result line. */
async function reportProfile(settings: ProfileSettings, window: LoadWindow, profile: CpuProfile): Promise<void> {
  const { alg, transport, storeKind, readings, output } = settings;
  await mkdir(dirname(output), { recursive: true });
  await writeFile(output, JSON.stringify(profile));

  const summary = summarizeCpuProfile(profile, { top: 25 });
  const rates = windowRates(window);
  const title =
    `${alg}, ${readings}-reading messages over ${transport.toUpperCase()} to ${storeKind}, ${sig(rates.messagesPerSecond)} messages/s, ` +
    `${sig(rates.cpuUsPerMessage)} CPU µs/message (node, all threads), runtime ${benchRuntime()}; profile of the main thread`;
  process.stdout.write(`${formatCpuProfileSummary(summary, title)}\n\nprofile written to ${output}\n`);
  printResult({
    section: 'cpu-profile',
    alg,
    transport,
    store: storeKind,
    readings,
    messagesPerSecond: sig(rates.messagesPerSecond),
    cpuUsPerMessage: sig(rates.cpuUsPerMessage),
    serverCores: sig(rates.serverCores),
    failed: window.failed,
    poolWraps: window.poolWraps,
    profileFile: output,
    profiledMs: sig(summary.totalMs),
    areas: summary.areas.map((a) => ({ area: a.name, percent: sig(a.percent), ms: sig(a.selfMs) })),
    topFunctions: summary.functions.map((f) => ({ name: f.name, percent: sig(f.percent), ms: sig(f.selfMs) })),
    markdown: profileMarkdown(title, summary),
  });
}

async function main(): Promise<void> {
  const settings = profileSettings(sectionArgs());
  const load = await signLoad(settings);
  const workspace = await benchWorkspace([load.fleet]);
  const vm = settings.storeKind === 'victoriametrics' ? await tryVictoriaMetrics() : {};
  if (settings.storeKind === 'victoriametrics' && vm.store === undefined) {
    await workspace.remove();
    throw new Error(`VictoriaMetrics unavailable: ${vm.skipped ?? 'unknown'}`);
  }
  const inspectPort = await freePort();
  let server: MeasuredServer | undefined;
  let inspector: NodeInspector | undefined;
  try {
    server = await startBenchNode({
      runtime: benchRuntime(),
      store: vm.store ?? { kind: 'duckdb' },
      registryFile: workspace.registryFile,
      mqtt: settings.transport === 'mqtt',
      env: { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}` },
    });
    inspector = await NodeInspector.atPort(inspectPort);
    const { window, profile } = await profileUnderLoad(settings, server, inspector, load);
    await reportProfile(settings, window, profile);
  } finally {
    inspector?.close();
    await server?.stop();
    await vm.server?.stop();
    await workspace.remove();
  }
}

await main();
