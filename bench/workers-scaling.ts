/**
 * Throughput with TELEMETRY_WORKERS=1, 2 and N (docs/PERFORMANCE.md §4): the same HTTP load (autocannon,
 * one-reading ES256 messages) against a node with that many worker processes. VictoriaMetrics is the store,
 * since the embedded DuckDB file belongs to one process. CPU counts the primary and its workers.
 *
 * On a machine of 8 cores or more (where `taskset` works) the processes are pinned apart (bench/support/core-plan.ts):
 * the node on the first half of the cores (N is that half: 1, 2, 4, … N workers are measured), VictoriaMetrics
 * on the next eighth, and one load-generating process on each core left, the connections shared among them
 * (64 a worker, at least the load shape's). Below that, as on the 2-core development machine, everything
 * shares every core and the load comes from this process: 1 and 2 workers.
 *
 *   npx tsx bench/workers-scaling.ts [--quick] [--workers 1,2,8] [--pin yes|no]
 *
 * Prints a `BENCH_RESULT {json}` line for bench/run-suite.ts.
 */
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { makeBenchFleet, signMessagePool } from './support/bench-fleet.js';
import { startBenchNode } from './support/bench-node.js';
import { printResult, progress, type SectionResult, sectionArgs, sig } from './support/bench-result.js';
import { benchWorkspace, messagesPerDevice, tryVictoriaMetrics } from './support/bench-setup.js';
import {
  type CorePlan,
  canPin,
  coresAllowed,
  PIN_FROM_CORES,
  pinProcess,
  planCores,
  workerCounts,
} from './support/core-plan.js';
import { benchRuntime, type NodeRuntime } from './support/node-runtime.js';
import { cpuSecondsOf } from './support/proc-cpu.js';
import { FULL_LOAD, type LoadShape, QUICK_LOAD, type SaturationResult, saturate } from './support/saturation.js';

export interface WorkersRun {
  readonly workers: number;
  /** HTTP connections the load kept busy. */
  readonly connections: number;
  /** The cores the node's primary was allowed, as /proc read them during the run (pinning can be ignored). */
  readonly nodeCores: string | undefined;
  /**
   * Cores the cluster primary alone used on average over the whole run (warm-up and wind-down included): it accepts
   * each connection and hands it to a worker, and is what workers share. Undefined for one worker, which runs as the
   * node's only process.
   */
  readonly primaryCores: number | undefined;
  readonly result: SaturationResult;
}

/** Messages a second one worker is expected to take at most, for sizing the message pool. */
const PER_WORKER_PER_SECOND = 6_000;
/** HTTP connections a worker gets in a pinned run (at least the load shape's). */
const CONNECTIONS_PER_WORKER = 64;

export async function runWorkersScaling(options: {
  readonly runtime: NodeRuntime;
  readonly load: LoadShape;
  readonly devices: number;
  readonly workers: readonly number[];
  /** Where each process runs; everything shares every core when undefined. */
  readonly plan?: CorePlan;
}): Promise<{ runs: WorkersRun[]; skipped: string[] }> {
  const { plan } = options;
  const vm = await tryVictoriaMetrics();
  if (vm.server === undefined) return { runs: [], skipped: [`VictoriaMetrics: ${vm.skipped}`] };
  if (plan !== undefined) {
    if (vm.pid === undefined) throw new Error('VictoriaMetrics runs, but its process was not found to pin it');
    pinProcess(vm.pid, plan.store);
  }
  const fleet = await makeBenchFleet({ devices: options.devices, alg: 'ES256' });
  const workspace = await benchWorkspace([fleet]);
  const runs: WorkersRun[] = [];
  try {
    // Sized for every worker where each has a core of its own; sharing the cores, two workers take little more than
    // one (a pool that runs out starts over, and the result counts its wraps).
    const most = plan === undefined ? 1 : Math.max(1, ...options.workers);
    const pool = await signMessagePool(fleet, {
      readingsPerMessage: 1,
      messagesPerDevice: messagesPerDevice(PER_WORKER_PER_SECOND * most, options.load, options.devices),
      startTs: Date.now() - 3_600_000,
    });
    for (const workers of options.workers) {
      const server = await startBenchNode({
        runtime: options.runtime,
        store: vm.store ?? { kind: 'victoriametrics', url: vm.server.url },
        registryFile: workspace.registryFile,
        mqtt: false,
        workers,
        ...(plan === undefined ? {} : { cores: plan.node(workers) }),
      });
      try {
        const connections =
          plan === undefined
            ? options.load.httpConnections
            : Math.max(options.load.httpConnections, CONNECTIONS_PER_WORKER * workers);
        const primaryBefore = { cpu: cpuSecondsOf(server.pid), at: performance.now() };
        // /metrics answers for one worker only, so count what the load generator saw acknowledged.
        const result = await saturate({
          server,
          transport: 'http',
          pool,
          load: { ...options.load, httpConnections: connections },
          rejectedMetric: false,
          ...(plan === undefined ? {} : { httpLoadProcesses: { cores: plan.load, dir: workspace.dir } }),
        });
        const primaryCores =
          workers === 1
            ? undefined
            : (cpuSecondsOf(server.pid) - primaryBefore.cpu) / ((performance.now() - primaryBefore.at) / 1000);
        runs.push({ workers, connections, nodeCores: coresAllowed(server.pid), primaryCores, result });
        progress(
          `  ${workers} worker(s): ${sig(result.messagesPerSecond)} msg/s, ${sig(result.cpuUsPerMessage)} µs CPU/msg, ` +
            `node ${sig(result.serverCores)} cores${primaryCores === undefined ? '' : ` (primary ${sig(primaryCores)})`}, ` +
            `load generator ${sig(result.loadCores)} cores, ${result.failed} failed`,
        );
      } finally {
        await server.stop();
      }
    }
  } finally {
    await vm.server.stop();
    await workspace.remove();
  }
  return { runs, skipped: [] };
}

/** The rate of `workers` workers over one worker's, where both were measured. */
function ratioTo(runs: readonly WorkersRun[], workers: number): number | undefined {
  const one = runs.find((r) => r.workers === 1);
  const many = runs.find((r) => r.workers === workers);
  return one === undefined || many === undefined
    ? undefined
    : many.result.messagesPerSecond / one.result.messagesPerSecond;
}

export function scalingRatio(runs: readonly WorkersRun[]): number | undefined {
  return ratioTo(runs, 2);
}

/** Where the processes ran, in words. */
export function placement(plan: CorePlan | undefined, runs: readonly WorkersRun[]): string {
  if (plan === undefined) {
    return `Node, VictoriaMetrics and load generator (this process) share all ${cpus().length} cores, unpinned.`;
  }
  const most = Math.max(1, ...runs.map((r) => r.workers));
  return (
    `Pinned with taskset on ${cpus().length} cores: the node (primary and workers) on cores ${plan.node(most)} ` +
    `(${plan.node(1)} for one worker), VictoriaMetrics on ${plan.store}, ${plan.load.length} load processes on ` +
    `${plan.load.join(', ')}.`
  );
}

export function workersMarkdown(runs: readonly WorkersRun[], plan?: CorePlan): string {
  const most = Math.max(1, ...runs.map((r) => r.workers));
  const ratio = ratioTo(runs, most);
  return [
    '| TELEMETRY_WORKERS | node allowed on cores | HTTP connections | msg/s | × 1 worker | node CPU µs/msg | node cores | of which the primary | load-gen cores | VictoriaMetrics cores |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...runs.map(
      (r) =>
        `| ${r.workers} | ${r.nodeCores ?? '?'} | ${r.connections} | ${sig(r.result.messagesPerSecond)} | ${sig(ratioTo(runs, r.workers) ?? Number.NaN)} | ` +
        `${sig(r.result.cpuUsPerMessage)} | ${sig(r.result.serverCores)} | ${r.primaryCores === undefined ? '—' : sig(r.primaryCores)} | ` +
        `${sig(r.result.loadCores)} | ${sig(r.result.storeCpuSeconds / r.result.seconds)} |`,
    ),
    '',
    placement(plan, runs),
    '',
    ratio === undefined || most < 2
      ? ''
      : `Scaling ratio (${most} workers ÷ 1 worker): **${sig(ratio)}×** on ${cpus().length} cores.`,
  ].join('\n');
}

/** `--pin yes|no` as asked, else pinned from {@link PIN_FROM_CORES} cores where taskset works. */
function chosenPlan(pin: string | undefined): CorePlan | undefined {
  const cores = cpus().length;
  if (pin === 'no') return undefined;
  if (pin === undefined && cores < PIN_FROM_CORES) return undefined;
  if (!canPin()) {
    if (pin === 'yes') throw new Error('--pin yes: taskset does not run here (Debian package util-linux)');
    progress('workers scaling: taskset does not run here, so nothing is pinned');
    return undefined;
  }
  return planCores(cores);
}

async function main(): Promise<void> {
  const args = sectionArgs();
  const runtime = benchRuntime();
  const plan = chosenPlan(args.values.get('pin'));
  const asked = args.values.get('workers');
  const workers = asked !== undefined ? asked.split(',').map(Number) : plan ? workerCounts(plan.maxWorkers) : [1, 2];
  if (workers.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--workers ${asked}: whole numbers from 1`);
  progress(`workers scaling: runtime ${runtime}, workers ${workers.join(', ')}, ${plan ? 'pinned' : 'unpinned'}`);
  const options = {
    runtime,
    load: args.quick ? QUICK_LOAD : FULL_LOAD,
    devices: args.quick ? 20 : 200,
    workers,
    ...(plan === undefined ? {} : { plan }),
  };
  const { runs, skipped } = await runWorkersScaling(options);
  const result: SectionResult = {
    section: 'workers-scaling',
    runtime,
    cores: cpus().length,
    load: options.load,
    pinned: plan !== undefined,
    placement: placement(plan, runs),
    runs: runs.map((r) => ({
      workers: r.workers,
      connections: r.connections,
      nodeCores: r.nodeCores,
      ...(r.primaryCores === undefined ? {} : { primaryCores: sig(r.primaryCores) }),
      scaling: sig(ratioTo(runs, r.workers) ?? Number.NaN),
      messagesPerSecond: sig(r.result.messagesPerSecond),
      cpuUsPerMessage: sig(r.result.cpuUsPerMessage),
      serverCores: sig(r.result.serverCores),
      loadCores: sig(r.result.loadCores),
      storeCores: sig(r.result.storeCpuSeconds / r.result.seconds),
      failed: r.result.failed,
    })),
    scalingRatio: sig(scalingRatio(runs) ?? Number.NaN),
    skipped,
    markdown: workersMarkdown(runs, plan),
  };
  printResult(result);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
