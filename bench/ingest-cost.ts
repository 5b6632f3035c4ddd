/**
 * Ingest node CPU per accepted message (docs/PERFORMANCE.md §2): a real `telemetry serve` process
 * driven at saturation over HTTP and MQTT, writing to the embedded DuckDB store and to
 * VictoriaMetrics, with messages of 1, 10 and 100 readings signed beforehand. The node's CPU time
 * (all threads, from /proc) over a measurement window, divided by the messages acknowledged in it,
 * is compared with the raw signature check of the same algorithm.
 *
 *   npx tsx bench/ingest-cost.ts [--quick] [--raw-es256 µs --raw-eddsa µs]
 *     [--stores duckdb,victoriametrics] [--transports http,mqtt,http-batch] [--readings 1,10,100] [--algs ES256,EdDSA]
 *
 * The comma-separated filters keep only the matrix cells they name (e.g. `--stores victoriametrics
 * --algs ES256` for the VictoriaMetrics cells alone); the per-reading cost needs readings 1 and 100.
 *
 * Prints a `BENCH_RESULT {json}` line for bench/run-suite.ts.
 */
import { fileURLToPath } from 'node:url';
import type { DeviceAlgorithm } from '../src/index.js';
import {
  type BenchFleet,
  connectionTokens,
  type MessagePool,
  makeBenchFleet,
  signMessagePool,
} from './support/bench-fleet.js';
import { type BenchStore, startBenchNode } from './support/bench-node.js';
import { printResult, progress, type SectionResult, sectionArgs, sig, sigNumbers } from './support/bench-result.js';
import { type BenchWorkspace, benchWorkspace, messagesPerDevice, tryVictoriaMetrics } from './support/bench-setup.js';
import {
  HTTP_BATCH_MESSAGES,
  type IngestCell,
  type IngestTransport,
  ingestCostMarkdown,
  ingestTargets,
  type PerReadingCost,
  perReadingCosts,
  type StoreKind,
} from './support/ingest-cost-report.js';
import { benchRuntime, type NodeRuntime } from './support/node-runtime.js';
import { rawVerifyCosts, type VerifyCosts } from './support/raw-verify.js';
import { FULL_LOAD, type LoadShape, QUICK_LOAD, saturate } from './support/saturation.js';

export type { IngestCell } from './support/ingest-cost-report.js';
export { perReadingCosts, TARGETS } from './support/ingest-cost-report.js';

export interface IngestCostOptions {
  readonly runtime: NodeRuntime;
  readonly load: LoadShape;
  readonly devices: number;
  readonly readings: readonly number[];
  readonly transports: readonly IngestTransport[];
  /** The transports measured with more than one reading a message; all of `transports` when omitted. */
  readonly manyReadingsTransports?: readonly IngestTransport[];
  readonly stores: readonly StoreKind[];
  /** Algorithms, and the stores and readings per message each is measured with (EdDSA on fewer to save time). */
  readonly algorithms: readonly { alg: DeviceAlgorithm; stores: readonly StoreKind[]; readings?: readonly number[] }[];
  readonly raw: VerifyCosts;
}

/** Rough saturation rates (messages/s) to size the pools; only the pool size depends on them. */
const EXPECTED_RATE: Readonly<Record<number, number>> = { 1: 6000, 10: 4000, 100: 1000 };

/** What every cell of one algorithm, readings-per-message and store shares. */
interface CellSetting {
  readonly alg: DeviceAlgorithm;
  readonly readings: number;
  readonly storeKind: StoreKind;
  readonly store: BenchStore;
  readonly pool: MessagePool;
  readonly tokens: string[];
}

/** Starts a node for one cell, drives it at saturation, and prints the cell's progress line. */
async function measureCell(
  options: IngestCostOptions,
  registryFile: string,
  setting: CellSetting,
  transport: IngestTransport,
): Promise<IngestCell> {
  const { alg, readings, storeKind, store, pool, tokens } = setting;
  const server = await startBenchNode({
    runtime: options.runtime,
    store,
    registryFile,
    mqtt: transport === 'mqtt',
  });
  try {
    const result = await saturate({
      server,
      transport: transport === 'http-batch' ? 'http' : transport,
      ...(transport === 'http-batch' ? { httpMessagesPerRequest: HTTP_BATCH_MESSAGES } : {}),
      pool,
      tokens,
      load: options.load,
      rejectedMetric: true,
    });
    const cell: IngestCell = {
      alg,
      readings,
      transport,
      store: storeKind,
      messageBytes: pool.averageBytes,
      result,
      ratioToRawVerify: result.cpuUsPerMessage / options.raw[alg].rawUs,
    };
    progress(
      `  ${alg} ${String(readings).padStart(3)} readings ${transport.padEnd(10)} ${storeKind.padEnd(15)} ` +
        `${sig(result.messagesPerSecond)} msg/s, ${sig(result.cpuUsPerMessage)} µs CPU/msg ` +
        `(${sig(cell.ratioToRawVerify)}× raw verify), node ${sig(result.serverCores)} cores, ` +
        `load generator ${sig(result.loadCores)} cores${result.rejected ? `, ${result.rejected} REJECTED` : ''}`,
    );
    return cell;
  } finally {
    await server.stop();
  }
}

/** The cells of one algorithm: every readings-per-message, store and transport it is measured with. */
async function measureAlgorithm(
  options: IngestCostOptions,
  workspace: BenchWorkspace,
  vmStore: BenchStore | undefined,
  algorithm: IngestCostOptions['algorithms'][number],
  fleet: BenchFleet,
): Promise<IngestCell[]> {
  const { alg, stores, readings: only } = algorithm;
  const cells: IngestCell[] = [];
  const tokens = await connectionTokens(fleet);
  for (const readings of only ?? options.readings) {
    const pool = await signMessagePool(fleet, {
      readingsPerMessage: readings,
      messagesPerDevice: messagesPerDevice(EXPECTED_RATE[readings] ?? 2000, options.load, options.devices),
      startTs: Date.now() - 3_600_000,
    });
    for (const storeKind of stores) {
      const store: BenchStore | undefined = storeKind === 'duckdb' ? { kind: 'duckdb' } : vmStore;
      if (store === undefined) continue;
      for (const transport of options.transports) {
        if (transport === 'http-batch' && readings !== 1) continue;
        if (readings !== 1 && options.manyReadingsTransports?.includes(transport) === false) continue;
        const setting = { alg, readings, storeKind, store, pool, tokens };
        cells.push(await measureCell(options, workspace.registryFile, setting, transport));
      }
    }
  }
  return cells;
}

export async function runIngestCost(options: IngestCostOptions): Promise<{
  cells: IngestCell[];
  perReading: PerReadingCost[];
  skipped: string[];
}> {
  const skipped: string[] = [];
  const fleets = await Promise.all(
    options.algorithms.map(({ alg }) => makeBenchFleet({ devices: options.devices, alg })),
  );
  const workspace = await benchWorkspace(fleets);
  const needsVm = options.algorithms.some((a) => a.stores.includes('victoriametrics'));
  const vm = needsVm ? await tryVictoriaMetrics() : {};
  if (vm.skipped !== undefined) skipped.push(`VictoriaMetrics: ${vm.skipped}`);
  const cells: IngestCell[] = [];
  try {
    for (const [a, algorithm] of options.algorithms.entries()) {
      const fleet = fleets[a];
      if (fleet === undefined) continue;
      cells.push(...(await measureAlgorithm(options, workspace, vm.store, algorithm, fleet)));
    }
  } finally {
    await vm.server?.stop();
    await workspace.remove();
  }
  return { cells, perReading: perReadingCosts(cells, options.raw), skipped };
}

/** Narrows the matrix to the cells named by `--stores`, `--transports`, `--readings` and `--algs`. */
export function filterCells(options: IngestCostOptions, values: ReadonlyMap<string, string>): IngestCostOptions {
  const list = (name: string): string[] | undefined =>
    values
      .get(name)
      ?.split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
  const stores = list('stores');
  const transports = list('transports');
  const readings = list('readings')?.map(Number);
  const algs = list('algs');
  const keepStore = (s: StoreKind) => stores === undefined || stores.includes(s);
  const keepReadings = (n: number) => readings === undefined || readings.includes(n);
  return {
    ...options,
    readings: options.readings.filter(keepReadings),
    transports: options.transports.filter((t) => transports === undefined || transports.includes(t)),
    stores: options.stores.filter(keepStore),
    algorithms: options.algorithms
      .filter((a) => algs === undefined || algs.includes(a.alg))
      .map((a) => ({
        ...a,
        stores: a.stores.filter(keepStore),
        ...(a.readings === undefined ? {} : { readings: a.readings.filter(keepReadings) }),
      }))
      .filter((a) => a.stores.length > 0),
  };
}

/** The raw verify costs the runner passed (`--raw-es256`, `--raw-eddsa`), or measured here. */
async function rawCosts(quick: boolean, values: ReadonlyMap<string, string>) {
  const rawEs = values.get('raw-es256');
  const rawEd = values.get('raw-eddsa');
  return rawEs !== undefined && rawEd !== undefined
    ? { costs: { ES256: { rawUs: Number(rawEs) }, EdDSA: { rawUs: Number(rawEd) } }, source: 'passed by the runner' }
    : await rawVerifyCosts({ quick, iterations: quick ? 2_000 : 20_000 });
}

/** The whole matrix, or with `--quick` a small one on DuckDB and ES256 only, 100 readings over MQTT only. */
function matrix(quick: boolean, runtime: NodeRuntime, raw: VerifyCosts): IngestCostOptions {
  return quick
    ? {
        runtime,
        load: QUICK_LOAD,
        devices: 20,
        readings: [1, 100],
        transports: ['http', 'mqtt'],
        // One transport's cost per additional reading is enough to check the section works: a node start less.
        manyReadingsTransports: ['mqtt'],
        stores: ['duckdb'],
        algorithms: [{ alg: 'ES256', stores: ['duckdb'] }],
        raw,
      }
    : {
        runtime,
        load: FULL_LOAD,
        devices: 200,
        readings: [1, 10, 100],
        transports: ['http', 'mqtt', 'http-batch'],
        stores: ['duckdb', 'victoriametrics'],
        algorithms: [
          { alg: 'ES256', stores: ['duckdb', 'victoriametrics'] },
          { alg: 'EdDSA', stores: ['duckdb'], readings: [1, 100] },
        ],
        raw,
      };
}

async function main(): Promise<void> {
  const args = sectionArgs();
  const raw = await rawCosts(args.quick, args.values);
  const runtime = benchRuntime();
  progress(`ingest cost: node runtime ${runtime}, raw verify from ${raw.source}`);
  const options = matrix(args.quick, runtime, raw.costs);
  const { cells, perReading, skipped } = await runIngestCost(filterCells(options, args.values));
  const result: SectionResult = {
    section: 'ingest-cost',
    runtime,
    rawVerify: raw.costs,
    rawVerifySource: raw.source,
    load: options.load,
    devices: options.devices,
    cells: cells.map((c) => ({
      ...c,
      result: sigNumbers(c.result),
      ratioToRawVerify: sig(c.ratioToRawVerify),
    })),
    perReading: perReading.map((p) => ({
      ...p,
      usPerAdditionalReading: sig(p.usPerAdditionalReading),
      fractionOfRawVerify: sig(p.fractionOfRawVerify),
    })),
    targets: ingestTargets(cells, perReading),
    skipped,
    markdown: ingestCostMarkdown(cells, perReading, raw.costs),
  };
  printResult(result);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
