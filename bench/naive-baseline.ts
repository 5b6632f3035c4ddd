/**
 * Our node against the naive baseline (bench/naive-baseline-server.ts: fastify + jose + one store
 * write per request), docs/PERFORMANCE.md §3: both driven over HTTP at saturation by the same
 * autocannon load with the same signed messages, each with a fresh store, one after the other.
 *
 *   npx tsx bench/naive-baseline.ts [--quick] [--stores duckdb,victoriametrics] [--readings 1,10]
 *
 * Prints a `BENCH_RESULT {json}` line for bench/run-suite.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/server-process.js';
import { makeBenchFleet, signMessagePool } from './support/bench-fleet.js';
import { type BenchStore, type MeasuredServer, spawnMeasuredServer, startBenchNode } from './support/bench-node.js';
import { printResult, progress, type SectionResult, sectionArgs, sig } from './support/bench-result.js';
import { benchWorkspace, messagesPerDevice, tryVictoriaMetrics } from './support/bench-setup.js';
import { benchRuntime, type NodeRuntime, scriptArgs } from './support/node-runtime.js';
import { FULL_LOAD, type LoadShape, QUICK_LOAD, type SaturationResult, saturate } from './support/saturation.js';

/** Starts the naive baseline server on a free port with a fresh data folder. */
export async function startNaiveServer(options: {
  readonly runtime: NodeRuntime;
  readonly store: BenchStore;
  readonly registryFile: string;
}): Promise<MeasuredServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'telemetry-bench-naive-'));
  const port = await freePort();
  const httpUrl = `http://127.0.0.1:${port}`;
  return spawnMeasuredServer({
    args: [
      ...scriptArgs('bench/naive-baseline-server.ts', options.runtime),
      '--port',
      String(port),
      '--registry',
      options.registryFile,
      '--data-dir',
      dataDir,
      '--store',
      options.store.kind,
      ...(options.store.kind === 'victoriametrics' ? ['--vm-url', options.store.url] : []),
    ],
    env: {},
    cwd: dataDir,
    httpUrl,
    ready: async (output) => output.includes('naive baseline listening') && (await fetch(`${httpUrl}/readyz`)).ok,
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
    store: options.store,
  });
}

export interface BaselineComparison {
  readonly store: BenchStore['kind'];
  readonly readings: number;
  readonly ours: SaturationResult;
  readonly naive: SaturationResult;
  /** Our messages per second over the baseline's. */
  readonly throughputRatio: number;
  /** Our CPU per message over the baseline's. */
  readonly cpuRatio: number;
}

export async function runNaiveBaseline(options: {
  readonly runtime: NodeRuntime;
  readonly load: LoadShape;
  readonly devices: number;
  readonly readings: readonly number[];
  readonly stores: readonly BenchStore['kind'][];
}): Promise<{ comparisons: BaselineComparison[]; skipped: string[] }> {
  const skipped: string[] = [];
  const fleet = await makeBenchFleet({ devices: options.devices, alg: 'ES256' });
  const workspace = await benchWorkspace([fleet]);
  const vm = options.stores.includes('victoriametrics') ? await tryVictoriaMetrics() : {};
  if (vm.skipped !== undefined) skipped.push(`VictoriaMetrics: ${vm.skipped}`);
  const comparisons: BaselineComparison[] = [];
  try {
    for (const readings of options.readings) {
      const pool = await signMessagePool(fleet, {
        readingsPerMessage: readings,
        messagesPerDevice: messagesPerDevice(readings === 1 ? 6000 : 4000, options.load, options.devices),
        startTs: Date.now() - 3_600_000,
      });
      for (const kind of options.stores) {
        if (kind === 'victoriametrics' && vm.server === undefined) continue;
        const store: BenchStore | undefined = kind === 'duckdb' ? { kind } : vm.store;
        if (store === undefined) continue;
        const measure = async (server: MeasuredServer, rejectedMetric: boolean) => {
          try {
            return await saturate({ server, transport: 'http', pool, load: options.load, rejectedMetric });
          } finally {
            await server.stop();
          }
        };
        const common = { runtime: options.runtime, store, registryFile: workspace.registryFile };
        const ours = await measure(await startBenchNode({ ...common, mqtt: false }), true);
        const naive = await measure(await startNaiveServer(common), false);
        const comparison: BaselineComparison = {
          store: kind,
          readings,
          ours,
          naive,
          throughputRatio: ours.messagesPerSecond / naive.messagesPerSecond,
          cpuRatio: ours.cpuUsPerMessage / naive.cpuUsPerMessage,
        };
        comparisons.push(comparison);
        progress(
          `  ${kind.padEnd(15)} ${String(readings).padStart(3)} readings: ours ${sig(ours.messagesPerSecond)} msg/s ` +
            `(${sig(ours.cpuUsPerMessage)} µs/msg), naive ${sig(naive.messagesPerSecond)} msg/s ` +
            `(${sig(naive.cpuUsPerMessage)} µs/msg): ${sig(comparison.throughputRatio)}× throughput`,
        );
      }
    }
  } finally {
    await vm.server?.stop();
    await workspace.remove();
  }
  return { comparisons, skipped };
}

export function naiveBaselineMarkdown(comparisons: readonly BaselineComparison[]): string {
  return [
    '| store | readings/msg | ours msg/s | naive msg/s | **throughput ratio** | ours CPU µs/msg | naive CPU µs/msg | ours + store server | naive + store server | ours cores | naive cores |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...comparisons.map(
      (c) =>
        `| ${c.store === 'duckdb' ? 'DuckDB (embedded)' : 'VictoriaMetrics'} | ${c.readings} | ${sig(c.ours.messagesPerSecond)} | ` +
        `${sig(c.naive.messagesPerSecond)} | **${sig(c.throughputRatio)}×** | ${sig(c.ours.cpuUsPerMessage)} | ` +
        `${sig(c.naive.cpuUsPerMessage)} | ${sig(c.ours.cpuUsPerMessageWithStore)} | ${sig(c.naive.cpuUsPerMessageWithStore)} | ` +
        `${sig(c.ours.serverCores)} | ${sig(c.naive.serverCores)} |`,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const args = sectionArgs();
  const runtime = benchRuntime();
  progress(`naive baseline: runtime ${runtime}`);
  const stores = args.values.get('stores')?.split(',');
  const readings = args.values.get('readings')?.split(',').map(Number);
  const defaults = args.quick
    ? { runtime, load: QUICK_LOAD, devices: 20, readings: [1], stores: ['duckdb'] as const }
    : { runtime, load: FULL_LOAD, devices: 200, readings: [1, 10], stores: ['duckdb', 'victoriametrics'] as const };
  const options = {
    ...defaults,
    readings: defaults.readings.filter((n) => readings === undefined || readings.includes(n)),
    stores: defaults.stores.filter((store) => stores === undefined || stores.includes(store)),
  };
  const { comparisons, skipped } = await runNaiveBaseline(options);
  const result: SectionResult = {
    section: 'naive-baseline',
    runtime,
    load: options.load,
    comparisons: comparisons.map((c) => ({
      store: c.store,
      readings: c.readings,
      oursPerSecond: sig(c.ours.messagesPerSecond),
      naivePerSecond: sig(c.naive.messagesPerSecond),
      throughputRatio: sig(c.throughputRatio),
      oursCpuUsPerMessage: sig(c.ours.cpuUsPerMessage),
      naiveCpuUsPerMessage: sig(c.naive.cpuUsPerMessage),
      cpuRatio: sig(c.cpuRatio),
      oursCpuUsPerMessageWithStore: sig(c.ours.cpuUsPerMessageWithStore),
      naiveCpuUsPerMessageWithStore: sig(c.naive.cpuUsPerMessageWithStore),
      oursCores: sig(c.ours.serverCores),
      naiveCores: sig(c.naive.serverCores),
      oursRejected: c.ours.rejected,
      naiveFailed: c.naive.failed,
    })),
    skipped,
    markdown: naiveBaselineMarkdown(comparisons),
  };
  printResult(result);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
