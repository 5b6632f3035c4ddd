/**
 * The cells of the ingest-cost matrix (bench/ingest-cost.ts) and what the section reports of them:
 * the per-additional-reading cost, the targets met, and the Markdown tables.
 */
import type { DeviceAlgorithm } from '../../src/index.js';
import type { BenchStore } from './bench-node.js';
import { sig } from './bench-result.js';
import type { VerifyCosts } from './raw-verify.js';
import type { SaturationResult, Transport } from './saturation.js';

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

export const TARGETS = { singleReadingRatio: 1.5, perReadingFraction: 0.05 } as const;

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
    '| alg | readings/msg | transport | store | msg/s | node CPU µs/msg | × raw verify | node cores | load-gen cores | VictoriaMetrics CPU µs/msg | readings per store write |',
    '|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...cells.map(
      (c) =>
        `| ${c.alg} | ${c.readings} | ${TRANSPORT_LABEL[c.transport]} | ${STORE_LABEL[c.store]} | ${sig(c.result.messagesPerSecond)} | ` +
        `${sig(c.result.cpuUsPerMessage)} | **${sig(c.ratioToRawVerify)}** | ${sig(c.result.serverCores)} | ${sig(c.result.loadCores)} | ` +
        `${c.store === 'duckdb' ? '—' : sig(c.result.cpuUsPerMessageWithStore - c.result.cpuUsPerMessage)} | ` +
        `${c.result.readingsPerWrite === undefined ? '—' : sig(c.result.readingsPerWrite)} |`,
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
