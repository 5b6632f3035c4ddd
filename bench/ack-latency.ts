/**
 * Acknowledgement latency at half the maximum rate (docs/PERFORMANCE.md §5): for each transport, a
 * node (default batching: group commit, no wait) is first driven at saturation to find its maximum rate,
 * then an open-loop sender offers half of it, one-reading ES256 messages, and the time from each
 * message's due send time to its 200 / PUBACK is recorded. Targets: p50 ≤ 5 ms, p99 ≤ 20 ms.
 * Beside each cell, a node with the fixed 20 ms batch wait that was the default before group commit is
 * driven at saturation too, in the same run, so the maximum rates compare.
 *
 *   npx tsx bench/ack-latency.ts [--quick] [--transports http,mqtt] [--stores duckdb,victoriametrics] [--compare-wait no]
 *
 * Prints a `BENCH_RESULT {json}` line for bench/run-suite.ts.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { connectionTokens, type MessagePool, makeBenchFleet, signMessagePool } from './support/bench-fleet.js';
import {
  type BenchStore,
  type MeasuredServer,
  metricTotal,
  metricWithLabels,
  startBenchNode,
} from './support/bench-node.js';
import { printResult, progress, type SectionResult, sectionArgs, sig } from './support/bench-result.js';
import { benchWorkspace, messagesPerDevice, tryVictoriaMetrics } from './support/bench-setup.js';
import { connectDevices, disconnectDevices } from './support/mqtt-load.js';
import { benchRuntime, type NodeRuntime } from './support/node-runtime.js';
import { httpLatency, type LatencyResult, mqttLatency } from './support/open-loop.js';
import { FULL_LOAD, type LoadShape, QUICK_LOAD, saturate, type Transport } from './support/saturation.js';

export const P50_TARGET_MS = 5;
export const P99_TARGET_MS = 20;
/** TELEMETRY_BATCH_MAX_WAIT_MS of the comparison node: the default before group commit. */
export const WAIT_BEFORE_MS = 20;

/** prom-client's longest event-loop delay since the last scrape (collectDefaultMetrics). */
const NODE_LOOP_MAX = 'nodejs_eventloop_lag_max_seconds';
const STORE_WRITE_SECONDS = 'telemetry_store_write_seconds';
/** A store write slower than this, in seconds (a bucket bound of the node's histogram), counts as slow. */
const SLOW_WRITE_S = '0.05';

export interface LatencyRun {
  readonly transport: Transport;
  readonly store: BenchStore['kind'];
  readonly maxPerSecond: number;
  /** Maximum rate of the same cell with a fixed {@link WAIT_BEFORE_MS} batch wait, measured just before; absent when not measured. */
  readonly maxPerSecondWithWait?: number;
  readonly latency: LatencyResult;
  /**
   * Longest event-loop stall, in ms, of the node (its `nodejs_eventloop_lag_max_seconds` over the open-loop run)
   * and of the sending process: a tail with a long sender stall and none in the node is the load generator's.
   */
  readonly nodeLoopMaxMs: number;
  readonly senderLoopMaxMs: number;
  /** The node's CPU (all threads) per message sent during the open-loop run, µs: its cost at half load. */
  readonly nodeCpuUsPerMessage: number;
  /**
   * Store writes during the open-loop run, and how many of them took longer than {@link SLOW_WRITE_S} (the
   * node's `telemetry_store_write_seconds`): a tail with slow writes and no loop stall is the store's.
   */
  readonly storeWrites: number;
  readonly slowStoreWrites: number;
}

interface AckLatencyOptions {
  readonly runtime: NodeRuntime;
  readonly load: LoadShape;
  /** Seconds of open-loop sending after a warm-up second. */
  readonly latencyS: number;
  readonly devices: number;
  readonly transports: readonly Transport[];
  readonly stores: readonly BenchStore['kind'][];
  /** Also saturate a node with the fixed batch wait of before, for the maximum rate beside it. */
  readonly compareWait: boolean;
}

/** The fleet's messages, signed once, and its MQTT tokens. */
interface SignedFleet {
  readonly pool: MessagePool;
  readonly tokens: string[];
  /** Seconds of sending the pool was sized for. */
  readonly seconds: number;
}

/**
 * Offers `shape.rate` messages a second from `messages` (per device) over `transport`, and measures
 * the latency and the longest event-loop stalls of the node and of this sending process.
 */
async function openLoopRun(
  server: MeasuredServer,
  transport: Transport,
  shape: { readonly rate: number; readonly warmupS: number; readonly measureS: number },
  messages: readonly (readonly string[])[],
  fleet: SignedFleet,
): Promise<
  Pick<
    LatencyRun,
    'latency' | 'nodeLoopMaxMs' | 'senderLoopMaxMs' | 'nodeCpuUsPerMessage' | 'storeWrites' | 'slowStoreWrites'
  >
> {
  const writes = async () => ({
    all: await metricTotal(server.httpUrl, `${STORE_WRITE_SECONDS}_count`),
    fast: await metricWithLabels(server.httpUrl, `${STORE_WRITE_SECONDS}_bucket`, { le: SLOW_WRITE_S }),
  });
  const writesBefore = await writes();
  // Reading the node's metrics resets its loop-lag maximum (prom-client); the sender's is watched here.
  await metricTotal(server.httpUrl, NODE_LOOP_MAX);
  const cpuBefore = server.cpuSeconds();
  const senderLoop = monitorEventLoopDelay({ resolution: 10 });
  senderLoop.enable();
  let latency: LatencyResult;
  if (transport === 'http') {
    latency = await httpLatency({ ...shape, httpUrl: server.httpUrl, messages: interleave(messages) });
  } else {
    const devices = await connectDevices(server.mqttUrl ?? '', fleet.pool.devices, fleet.tokens);
    try {
      latency = await mqttLatency({ ...shape, devices, messages });
    } finally {
      await disconnectDevices(devices);
    }
  }
  senderLoop.disable();
  // Over the whole open-loop run, warm-up included: CPU per message at half load, beside §2's at saturation.
  const nodeCpuUsPerMessage = sig(((server.cpuSeconds() - cpuBefore) * 1e6) / Math.max(1, latency.sent));
  const nodeLoopMaxMs = sig((await metricTotal(server.httpUrl, NODE_LOOP_MAX)) * 1000);
  const senderLoopMaxMs = sig(senderLoop.max / 1e6);
  const writesAfter = await writes();
  const storeWrites = writesAfter.all - writesBefore.all;
  const slowStoreWrites = storeWrites - (writesAfter.fast - writesBefore.fast);
  return { latency, nodeLoopMaxMs, senderLoopMaxMs, nodeCpuUsPerMessage, storeWrites, slowStoreWrites };
}

/** One store and transport: a node driven at saturation for its maximum rate, then offered half of it. */
async function measureLatency(
  options: AckLatencyOptions,
  server: MeasuredServer,
  transport: Transport,
  kind: BenchStore['kind'],
  fleet: SignedFleet,
  maxPerSecondWithWait: number | undefined,
): Promise<LatencyRun> {
  const { pool, tokens, seconds } = fleet;
  const max = await saturate({ server, transport, pool, tokens, load: options.load, rejectedMetric: true });
  const rate = Math.max(1, Math.round(max.messagesPerSecond / 2));
  // The rest of the pool, after what saturation may have used.
  const used = Math.ceil((max.messagesPerSecond * seconds) / options.devices);
  const rest = pool.byDevice.map((messages) => messages.slice(Math.min(used, messages.length - 1)));
  const shape = { rate, warmupS: 1, measureS: options.latencyS };
  const run = {
    transport,
    store: kind,
    maxPerSecond: max.messagesPerSecond,
    ...(maxPerSecondWithWait === undefined ? {} : { maxPerSecondWithWait }),
    ...(await openLoopRun(server, transport, shape, rest, fleet)),
  };
  const { latency, nodeLoopMaxMs, senderLoopMaxMs, nodeCpuUsPerMessage, storeWrites, slowStoreWrites } = run;
  progress(
    `  ${transport.padEnd(4)} ${kind.padEnd(15)} max ${sig(max.messagesPerSecond)} msg/s ` +
      `(${maxPerSecondWithWait === undefined ? '—' : sig(maxPerSecondWithWait)} with a ${WAIT_BEFORE_MS} ms wait); at ${rate} msg/s: ` +
      `p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms (${latency.failed} failed); ` +
      `longest loop stall: node ${nodeLoopMaxMs} ms, sender ${senderLoopMaxMs} ms; ` +
      `store writes over ${Number(SLOW_WRITE_S) * 1000} ms: ${slowStoreWrites} of ${storeWrites}; node ${nodeCpuUsPerMessage} µs CPU/msg`,
  );
  return run;
}

export async function runAckLatency(options: AckLatencyOptions): Promise<{ runs: LatencyRun[]; skipped: string[] }> {
  const skipped: string[] = [];
  const fleet = await makeBenchFleet({ devices: options.devices, alg: 'ES256' });
  const workspace = await benchWorkspace([fleet]);
  const tokens = await connectionTokens(fleet);
  const vm = options.stores.includes('victoriametrics') ? await tryVictoriaMetrics() : {};
  if (vm.skipped !== undefined) skipped.push(`VictoriaMetrics: ${vm.skipped}`);
  const runs: LatencyRun[] = [];
  try {
    // One pool, used once: the saturation run takes the first part, the open-loop run the rest.
    const seconds = options.load.warmupS + options.load.measureS + 1 + options.latencyS;
    const pool = await signMessagePool(fleet, {
      readingsPerMessage: 1,
      messagesPerDevice: messagesPerDevice(6000, { ...options.load, measureS: seconds }, options.devices),
      startTs: Date.now() - 3_600_000,
    });
    for (const kind of options.stores) {
      if (kind === 'victoriametrics' && vm.server === undefined) continue;
      const store: BenchStore | undefined = kind === 'duckdb' ? { kind } : vm.store;
      if (store === undefined) continue;
      for (const transport of options.transports) {
        const withWait = options.compareWait
          ? await maxRateWithWait(options, workspace.registryFile, store, transport, { pool, tokens, seconds })
          : undefined;
        const server = await startBenchNode({
          runtime: options.runtime,
          store,
          registryFile: workspace.registryFile,
          mqtt: transport === 'mqtt',
        });
        try {
          runs.push(await measureLatency(options, server, transport, kind, { pool, tokens, seconds }, withWait));
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await vm.server?.stop();
    await workspace.remove();
  }
  return { runs, skipped };
}

/** The maximum rate of a fresh node with the fixed batch wait of before (its own DuckDB file; the same messages). */
async function maxRateWithWait(
  options: AckLatencyOptions,
  registryFile: string,
  store: BenchStore,
  transport: Transport,
  fleet: SignedFleet,
): Promise<number> {
  const server = await startBenchNode({
    runtime: options.runtime,
    store,
    registryFile,
    mqtt: transport === 'mqtt',
    env: { TELEMETRY_BATCH_MAX_WAIT_MS: String(WAIT_BEFORE_MS) },
  });
  try {
    const { pool, tokens } = fleet;
    const max = await saturate({ server, transport, pool, tokens, load: options.load, rejectedMetric: true });
    return max.messagesPerSecond;
  } finally {
    await server.stop();
  }
}

function interleave(byDevice: readonly (readonly string[])[]): string[] {
  const out: string[] = [];
  const longest = Math.max(...byDevice.map((m) => m.length));
  for (let k = 0; k < longest; k++)
    for (const messages of byDevice) if (k < messages.length) out.push(messages[k] as string);
  return out;
}

/** Whether a run meets both latency targets. */
export function latencyMet(latency: LatencyResult): boolean {
  return latency.p50Ms <= P50_TARGET_MS && latency.p99Ms <= P99_TARGET_MS;
}

export function latencyMarkdown(runs: readonly LatencyRun[]): string {
  const withWait = (r: LatencyRun) =>
    r.maxPerSecondWithWait === undefined
      ? '—'
      : `${sig(r.maxPerSecondWithWait)} (${sig(r.maxPerSecond / r.maxPerSecondWithWait)}×)`;
  return [
    `| transport | store | max msg/s | max msg/s with a ${WAIT_BEFORE_MS} ms wait (ours ÷ it) | offered msg/s | **p50 ms** | p90 ms | **p99 ms** | max ms | p50 ≤ ${P50_TARGET_MS}, p99 ≤ ${P99_TARGET_MS} ms | longest loop stall, node ms | longest loop stall, sender ms | store writes over ${Number(SLOW_WRITE_S) * 1000} ms | node CPU µs/msg at this rate |`,
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|',
    ...runs.map(
      (r) =>
        `| ${r.transport.toUpperCase()} | ${r.store === 'duckdb' ? 'DuckDB (embedded)' : 'VictoriaMetrics'} | ${sig(r.maxPerSecond)} | ${withWait(r)} | ` +
        `${r.latency.offeredPerSecond} | **${r.latency.p50Ms}** | ${r.latency.p90Ms} | **${r.latency.p99Ms}** | ${r.latency.maxMs} | ` +
        `${latencyMet(r.latency) ? 'met' : 'missed'} | ${r.nodeLoopMaxMs} | ${r.senderLoopMaxMs} | ` +
        `${r.slowStoreWrites} of ${r.storeWrites} | ${r.nodeCpuUsPerMessage} |`,
    ),
  ].join('\n');
}

/** `all`, narrowed to the comma-separated names of a `--transports` or `--stores` argument when one is given. */
function only<T extends string>(named: string | undefined, all: readonly T[]): readonly T[] {
  if (named === undefined) return all;
  const names = named.split(',').map((name) => name.trim());
  return all.filter((item) => names.includes(item));
}

async function main(): Promise<void> {
  const args = sectionArgs();
  const runtime = benchRuntime();
  progress(`acknowledgement latency: runtime ${runtime}`);
  const options = {
    runtime,
    // The saturation run only finds the maximum rate: shorter than §2's.
    load: args.quick ? QUICK_LOAD : { ...FULL_LOAD, warmupS: 1, measureS: 3 },
    latencyS: args.quick ? 1 : 5,
    devices: args.quick ? 20 : 200,
    transports: only(args.values.get('transports'), ['http', 'mqtt'] as const),
    stores: only(
      args.values.get('stores'),
      args.quick ? (['duckdb'] as const) : (['duckdb', 'victoriametrics'] as const),
    ),
    compareWait: !args.quick && args.values.get('compare-wait') !== 'no',
  };
  const { runs, skipped } = await runAckLatency(options);
  const result: SectionResult = {
    section: 'ack-latency',
    runtime,
    targetP50Ms: P50_TARGET_MS,
    targetP99Ms: P99_TARGET_MS,
    waitBeforeMs: WAIT_BEFORE_MS,
    runs: runs.map((r) => ({
      transport: r.transport,
      store: r.store,
      maxPerSecond: sig(r.maxPerSecond),
      ...(r.maxPerSecondWithWait === undefined ? {} : { maxPerSecondWithWait: sig(r.maxPerSecondWithWait) }),
      ...r.latency,
      acknowledgedPerSecond: sig(r.latency.acknowledgedPerSecond),
      nodeLoopMaxMs: r.nodeLoopMaxMs,
      senderLoopMaxMs: r.senderLoopMaxMs,
      nodeCpuUsPerMessage: r.nodeCpuUsPerMessage,
      met: latencyMet(r.latency),
    })),
    skipped,
    markdown: latencyMarkdown(runs),
  };
  printResult(result);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
