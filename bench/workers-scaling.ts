/**
 * Throughput with TELEMETRY_WORKERS=1 and =2 (docs/PERFORMANCE.md §4): the same HTTP load (autocannon,
 * one-reading ES256 messages) against a node with one and with two worker processes. VictoriaMetrics is
 * the store, since the embedded DuckDB file belongs to one process. CPU counts the primary and its workers.
 *
 *   npx tsx bench/workers-scaling.ts [--quick]
 *
 * Prints a `BENCH_RESULT {json}` line for bench/run-suite.ts.
 */
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { makeBenchFleet, signMessagePool } from './support/bench-fleet.js';
import { startBenchNode } from './support/bench-node.js';
import { printResult, progress, type SectionResult, sectionArgs, sig } from './support/bench-result.js';
import { benchWorkspace, messagesPerDevice, tryVictoriaMetrics } from './support/bench-setup.js';
import { benchRuntime, type NodeRuntime } from './support/node-runtime.js';
import { FULL_LOAD, type LoadShape, QUICK_LOAD, type SaturationResult, saturate } from './support/saturation.js';

export interface WorkersRun {
  readonly workers: number;
  readonly result: SaturationResult;
}

export async function runWorkersScaling(options: {
  readonly runtime: NodeRuntime;
  readonly load: LoadShape;
  readonly devices: number;
  readonly workers: readonly number[];
}): Promise<{ runs: WorkersRun[]; skipped: string[] }> {
  const vm = await tryVictoriaMetrics();
  if (vm.server === undefined) return { runs: [], skipped: [`VictoriaMetrics: ${vm.skipped}`] };
  const fleet = await makeBenchFleet({ devices: options.devices, alg: 'ES256' });
  const workspace = await benchWorkspace([fleet]);
  const runs: WorkersRun[] = [];
  try {
    const pool = await signMessagePool(fleet, {
      readingsPerMessage: 1,
      messagesPerDevice: messagesPerDevice(6000, options.load, options.devices),
      startTs: Date.now() - 3_600_000,
    });
    for (const workers of options.workers) {
      const server = await startBenchNode({
        runtime: options.runtime,
        store: vm.store ?? { kind: 'victoriametrics', url: vm.server.url },
        registryFile: workspace.registryFile,
        mqtt: false,
        workers,
      });
      try {
        // /metrics answers for one worker only, so count what the load generator saw acknowledged.
        const result = await saturate({ server, transport: 'http', pool, load: options.load, rejectedMetric: false });
        runs.push({ workers, result });
        progress(
          `  ${workers} worker(s): ${sig(result.messagesPerSecond)} msg/s, ${sig(result.cpuUsPerMessage)} µs CPU/msg, ` +
            `node ${sig(result.serverCores)} cores, load generator ${sig(result.loadCores)} cores, ${result.failed} failed`,
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

export function scalingRatio(runs: readonly WorkersRun[]): number | undefined {
  const one = runs.find((r) => r.workers === 1);
  const two = runs.find((r) => r.workers === 2);
  return one === undefined || two === undefined
    ? undefined
    : two.result.messagesPerSecond / one.result.messagesPerSecond;
}

export function workersMarkdown(runs: readonly WorkersRun[]): string {
  const ratio = scalingRatio(runs);
  return [
    '| TELEMETRY_WORKERS | msg/s | node CPU µs/msg | node cores | load-gen cores | VictoriaMetrics cores |',
    '|---:|---:|---:|---:|---:|---:|',
    ...runs.map(
      (r) =>
        `| ${r.workers} | ${sig(r.result.messagesPerSecond)} | ${sig(r.result.cpuUsPerMessage)} | ${sig(r.result.serverCores)} | ` +
        `${sig(r.result.loadCores)} | ${sig(r.result.storeCpuSeconds / r.result.seconds)} |`,
    ),
    '',
    ratio === undefined ? '' : `Scaling ratio (2 workers ÷ 1 worker): **${sig(ratio)}×** on ${cpus().length} cores.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = sectionArgs();
  const runtime = benchRuntime();
  progress(`workers scaling: runtime ${runtime}`);
  const options = {
    runtime,
    load: args.quick ? QUICK_LOAD : FULL_LOAD,
    devices: args.quick ? 20 : 200,
    workers: [1, 2],
  };
  const { runs, skipped } = await runWorkersScaling(options);
  const result: SectionResult = {
    section: 'workers-scaling',
    runtime,
    cores: cpus().length,
    load: options.load,
    runs: runs.map((r) => ({
      workers: r.workers,
      messagesPerSecond: sig(r.result.messagesPerSecond),
      cpuUsPerMessage: sig(r.result.cpuUsPerMessage),
      serverCores: sig(r.result.serverCores),
      loadCores: sig(r.result.loadCores),
      storeCores: sig(r.result.storeCpuSeconds / r.result.seconds),
      failed: r.result.failed,
    })),
    scalingRatio: sig(scalingRatio(runs) ?? Number.NaN),
    skipped,
    markdown: workersMarkdown(runs),
  };
  printResult(result);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
