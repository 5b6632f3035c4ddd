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
import { connectionTokens, makeBenchFleet, signMessagePool } from './support/bench-fleet.js';
import { type BenchStore, startBenchNode } from './support/bench-node.js';
import { printResult, progress, type SectionResult, sectionArgs, sig, sigNumbers } from './support/bench-result.js';
import { benchWorkspace, messagesPerDevice, tryVictoriaMetrics } from './support/bench-setup.js';
import { benchRuntime, type NodeRuntime } from './support/node-runtime.js';
import { rawVerifyCosts, type VerifyCosts } from './support/raw-verify.js';
import {
  FULL_LOAD,
  type LoadShape,
  QUICK_LOAD,
  type SaturationResult,
  saturate,
  type Transport,
} from './support/saturation.js';

export type StoreKind = BenchStore['kind'];

/**
 * How messages reach the node: one per HTTP request, one per MQTT publish, or `http-batch`: one-reading
 * messages sent {@link HTTP_BATCH_MESSAGES} per request to `POST /v1/messages/batch` (measured at 1 reading
 * only: it shows what the per-request cost is when requests carry several messages).
 */
export type IngestTransport = Transport | 'http-batch';

/** Messages per request in the `http-batch` cells. */
export const HTTP_BATCH_MESSAGES = 10;

/** One cell of the matrix. */
export interface IngestCell {
  readonly alg: DeviceAlgorithm;
  readonly readings: number;
  readonly transport: IngestTransport;
  readonly store: StoreKind;
  readonly messageBytes: number;
  readonly result: SaturationResult;
  /** CPU per message over the raw verification of one signature of the same algorithm. */
  readonly ratioToRawVerify: number;
}

/** Cost of each reading beyond the first: (cost at 100 readings − cost at 1) / 99, over one raw verify. */
export interface PerReadingCost {
  readonly alg: DeviceAlgorithm;
  readonly transport: IngestTransport;
  readonly store: StoreKind;
  readonly usPerAdditionalReading: number;
  readonly fractionOfRawVerify: number;
}

export interface IngestCostOptions {
  readonly runtime: NodeRuntime;
  readonly load: LoadShape;
  readonly devices: number;
  readonly readings: readonly number[];
  readonly transports: readonly IngestTransport[];
  readonly stores: readonly StoreKind[];
  /** Algorithms, and the stores and readings per message each is measured with (EdDSA on fewer to save time). */
  readonly algorithms: readonly { alg: DeviceAlgorithm; stores: readonly StoreKind[]; readings?: readonly number[] }[];
  readonly raw: VerifyCosts;
}

/** Rough saturation rates (messages/s) to size the pools; only the pool size depends on them. */
const EXPECTED_RATE: Readonly<Record<number, number>> = { 1: 6000, 10: 4000, 100: 1000 };

export const TARGETS = { singleReadingRatio: 1.5, perReadingFraction: 0.05 } as const;

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
    for (const [a, { alg, stores, readings: only }] of options.algorithms.entries()) {
      const fleet = fleets[a];
      if (fleet === undefined) continue;
      const tokens = await connectionTokens(fleet);
      for (const readings of only ?? options.readings) {
        const pool = await signMessagePool(fleet, {
          readingsPerMessage: readings,
          messagesPerDevice: messagesPerDevice(EXPECTED_RATE[readings] ?? 2000, options.load, options.devices),
          startTs: Date.now() - 3_600_000,
        });
        for (const storeKind of stores) {
          const store: BenchStore | undefined = storeKind === 'duckdb' ? { kind: 'duckdb' } : vm.store;
          if (store === undefined) continue;
          for (const transport of options.transports) {
            if (transport === 'http-batch' && readings !== 1) continue;
            const server = await startBenchNode({
              runtime: options.runtime,
              store,
              registryFile: workspace.registryFile,
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
              cells.push(cell);
              progress(
                `  ${alg} ${String(readings).padStart(3)} readings ${transport.padEnd(10)} ${storeKind.padEnd(15)} ` +
                  `${sig(result.messagesPerSecond)} msg/s, ${sig(result.cpuUsPerMessage)} µs CPU/msg ` +
                  `(${sig(cell.ratioToRawVerify)}× raw verify), node ${sig(result.serverCores)} cores, ` +
                  `load generator ${sig(result.loadCores)} cores${result.rejected ? `, ${result.rejected} REJECTED` : ''}`,
              );
            } finally {
              await server.stop();
            }
          }
        }
      }
    }
  } finally {
    await vm.server?.stop();
    await workspace.remove();
  }
  return { cells, perReading: perReadingCosts(cells, options.raw), skipped };
}

/** The per-additional-reading cost of every (alg, transport, store) measured at both 1 and 100 readings. */
export function perReadingCosts(cells: readonly IngestCell[], raw: VerifyCosts): PerReadingCost[] {
  const out: PerReadingCost[] = [];
  for (const one of cells.filter((c) => c.readings === 1)) {
    const hundred = cells.find(
      (c) => c.readings === 100 && c.alg === one.alg && c.transport === one.transport && c.store === one.store,
    );
    if (hundred === undefined) continue;
    const us = (hundred.result.cpuUsPerMessage - one.result.cpuUsPerMessage) / 99;
    out.push({
      alg: one.alg,
      transport: one.transport,
      store: one.store,
      usPerAdditionalReading: us,
      fractionOfRawVerify: us / raw[one.alg].rawUs,
    });
  }
  return out;
}

const TRANSPORT_LABEL: Readonly<Record<IngestTransport, string>> = {
  http: 'HTTP',
  'http-batch': `HTTP, ${HTTP_BATCH_MESSAGES} per request`,
  mqtt: 'MQTT',
};

const STORE_LABEL: Readonly<Record<StoreKind, string>> = {
  duckdb: 'DuckDB (embedded)',
  victoriametrics: 'VictoriaMetrics',
};

/** The section's tables in Markdown. */
export function ingestCostMarkdown(
  cells: readonly IngestCell[],
  perReading: readonly PerReadingCost[],
  raw: VerifyCosts,
): string {
  const lines = [
    `Raw verify (node:crypto, key prepared once): ES256 ${sig(raw.ES256.rawUs)} µs, EdDSA ${sig(raw.EdDSA.rawUs)} µs CPU.`,
    '',
    '| alg | readings/msg | transport | store | msg/s | node CPU µs/msg | × raw verify | node cores | load-gen cores | VictoriaMetrics CPU µs/msg |',
    '|---|---:|---|---|---:|---:|---:|---:|---:|---:|',
    ...cells.map(
      (c) =>
        `| ${c.alg} | ${c.readings} | ${TRANSPORT_LABEL[c.transport]} | ${STORE_LABEL[c.store]} | ${sig(c.result.messagesPerSecond)} | ` +
        `${sig(c.result.cpuUsPerMessage)} | **${sig(c.ratioToRawVerify)}** | ${sig(c.result.serverCores)} | ${sig(c.result.loadCores)} | ` +
        `${c.store === 'duckdb' ? '—' : sig(c.result.cpuUsPerMessageWithStore - c.result.cpuUsPerMessage)} |`,
    ),
    '',
    '| alg | transport | store | µs per additional reading | fraction of one raw verify |',
    '|---|---|---|---:|---:|',
    ...perReading.map(
      (p) =>
        `| ${p.alg} | ${TRANSPORT_LABEL[p.transport]} | ${STORE_LABEL[p.store]} | ${sig(p.usPerAdditionalReading)} | **${sig(p.fractionOfRawVerify * 100)} %** |`,
    ),
  ];
  return lines.join('\n');
}

export function ingestTargets(cells: readonly IngestCell[], perReading: readonly PerReadingCost[]) {
  // The target is about one message per request or publish, the matrix of the issue; batched requests are shown
  // beside it, not counted in it.
  const single = cells.filter((c) => c.readings === 1 && c.transport !== 'http-batch');
  const worstSingle = Math.max(...single.map((c) => c.ratioToRawVerify));
  const bestSingle = Math.min(...single.map((c) => c.ratioToRawVerify));
  const worstPerReading = Math.max(...perReading.map((p) => p.fractionOfRawVerify));
  const bestPerReading = Math.min(...perReading.map((p) => p.fractionOfRawVerify));
  return {
    singleReading: {
      target: `≤ ${TARGETS.singleReadingRatio}× raw verify, one message per request or publish`,
      best: sig(bestSingle),
      worst: sig(worstSingle),
      // Math.max of nothing is -Infinity: a run without such cells meets nothing.
      met: single.length > 0 && worstSingle <= TARGETS.singleReadingRatio,
      cellsMet: `${single.filter((c) => c.ratioToRawVerify <= TARGETS.singleReadingRatio).length} of ${single.length}`,
    },
    perAdditionalReading: {
      target: `≤ ${TARGETS.perReadingFraction * 100} % of one raw verify`,
      best: sig(bestPerReading),
      worst: sig(worstPerReading),
      met: perReading.length > 0 && worstPerReading <= TARGETS.perReadingFraction,
      cellsMet: `${perReading.filter((p) => p.fractionOfRawVerify <= TARGETS.perReadingFraction).length} of ${perReading.length}`,
    },
  };
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

async function main(): Promise<void> {
  const args = sectionArgs();
  const rawEs = args.values.get('raw-es256');
  const rawEd = args.values.get('raw-eddsa');
  const raw =
    rawEs !== undefined && rawEd !== undefined
      ? { costs: { ES256: { rawUs: Number(rawEs) }, EdDSA: { rawUs: Number(rawEd) } }, source: 'passed by the runner' }
      : await rawVerifyCosts({ quick: args.quick, iterations: args.quick ? 2_000 : 20_000 });
  const runtime = benchRuntime();
  progress(`ingest cost: node runtime ${runtime}, raw verify from ${raw.source}`);
  const options: IngestCostOptions = args.quick
    ? {
        runtime,
        load: QUICK_LOAD,
        devices: 20,
        readings: [1, 100],
        transports: ['http', 'mqtt'],
        stores: ['duckdb'],
        algorithms: [{ alg: 'ES256', stores: ['duckdb'] }],
        raw: raw.costs,
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
        raw: raw.costs,
      };
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
