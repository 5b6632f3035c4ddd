/**
 * The targets of issues 17 (ingest speed) and 18 (query speed), judged from one suite run's results: one line per
 * target and cell, each "met" or "missed" with the figure that decides it. A cell the run did not measure is a
 * line that says so and counts as missed, so a target is never met by leaving a cell out.
 */
import type { SectionResult } from './bench-result.js';
import { sig } from './bench-result.js';

export interface TargetLine {
  /** The item, e.g. "17.1". */
  readonly item: string;
  readonly target: string;
  /** The cell judged, e.g. "HTTP, VictoriaMetrics". */
  readonly cell: string;
  /** The deciding figure, in words, or why there is none. */
  readonly figure: string;
  readonly met: boolean;
}

/** Ack-latency targets (issue 17 item 1). */
const P50_MS = 5;
const P99_MS = 20;
/** The node's own cost above raw verify and transport floor, in raw verifies (item 2). */
const OWN_COST = 0.25;
/** Throughput over the naive server (item 3). */
const NAIVE_RATIO: Readonly<Record<string, number>> = { victoriametrics: 3, duckdb: 6 };
/** The embedded store's cost per additional reading, as a fraction of a raw verify (item 4). */
const EMBEDDED_PER_READING = 0.05;
/** API over direct (issue 18 item 4). */
const QUERY_RATIO = 1.5;
/** "About ten minutes" and "about one" (item 6), with a fifth of slack. */
const FULL_SUITE_SECONDS = 720;
const QUICK_SUITE_SECONDS = 90;

const STORES = ['duckdb', 'victoriametrics'] as const;
const TRANSPORTS = ['http', 'mqtt'] as const;
/** The floor server each transport is measured against: the library the node itself uses. */
const FLOOR_OF: Readonly<Record<(typeof TRANSPORTS)[number], string>> = { http: 'fastify', mqtt: 'aedes' };

const STORE_NAMES: Readonly<Record<string, string>> = {
  duckdb: 'DuckDB',
  victoriametrics: 'VictoriaMetrics',
  influxdb: 'InfluxDB',
};
const storeName = (store: string) => STORE_NAMES[store] ?? store;
const transportName = (transport: string) => transport.toUpperCase();

function list(result: SectionResult | undefined, key: string): readonly Record<string, unknown>[] {
  const value = result?.[key];
  return Array.isArray(value) ? (value as Record<string, unknown>[]) : [];
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function notMeasured(item: string, target: string, cell: string, why = 'not measured in this run'): TargetLine {
  return { item, target, cell, figure: why, met: false };
}

function latencyLines(results: ReadonlyMap<string, SectionResult>): TargetLine[] {
  const target = `ack p50 ≤ ${P50_MS} ms and p99 ≤ ${P99_MS} ms at half the maximum rate; max rate not below a 20 ms wait's`;
  const runs = list(results.get('ack-latency'), 'runs');
  return STORES.flatMap((store) =>
    TRANSPORTS.map((transport) => {
      const cell = `${transportName(transport)}, ${storeName(store)}`;
      const run = runs.find((r) => r.store === store && r.transport === transport);
      const p50 = num(run?.p50Ms);
      const p99 = num(run?.p99Ms);
      if (p50 === undefined || p99 === undefined) return notMeasured('17.1', target, cell);
      const max = num(run?.maxPerSecond);
      const withWait = num(run?.maxPerSecondWithWait);
      const rateMet = max === undefined || withWait === undefined ? undefined : max >= withWait;
      const rate =
        rateMet === undefined ? 'max rate not compared' : `max ${max} msg/s against ${withWait} with the 20 ms wait`;
      return {
        item: '17.1',
        target,
        cell,
        figure: `p50 ${p50} ms, p99 ${p99} ms; ${rate}`,
        met: p50 <= P50_MS && p99 <= P99_MS && rateMet === true,
      };
    }),
  );
}

function ownCostLines(results: ReadonlyMap<string, SectionResult>): TargetLine[] {
  const target = `node CPU per one-reading ES256 message − raw verify − transport floor ≤ ${OWN_COST} raw verify`;
  const raw = num((results.get('verify-cost')?.ES256 as { rawUs?: unknown } | undefined)?.rawUs);
  const cells = list(results.get('ingest-cost'), 'cells');
  const floors = list(results.get('transport-floor'), 'cells');
  return STORES.flatMap((store) =>
    TRANSPORTS.map((transport) => {
      const cell = `${transportName(transport)}, ${storeName(store)}`;
      const measured = cells.find(
        (c) => c.alg === 'ES256' && c.readings === 1 && c.transport === transport && c.store === store,
      );
      const node = num((measured?.result as { cpuUsPerMessage?: unknown } | undefined)?.cpuUsPerMessage);
      const floorCell = floors.find((f) => f.kind === FLOOR_OF[transport]);
      const floor = num((floorCell?.result as { cpuUsPerMessage?: unknown } | undefined)?.cpuUsPerMessage);
      if (raw === undefined || node === undefined || floor === undefined) return notMeasured('17.2', target, cell);
      const own = (node - raw - floor) / raw;
      return {
        item: '17.2',
        target,
        cell,
        figure: `${node} − ${sig(raw)} − ${floor} (${FLOOR_OF[transport]}) µs = ${sig(own)} raw verify`,
        met: own <= OWN_COST,
      };
    }),
  );
}

function naiveLines(results: ReadonlyMap<string, SectionResult>): TargetLine[] {
  const comparisons = list(results.get('naive-baseline'), 'comparisons');
  return STORES.flatMap((store) =>
    [1, 10].map((readings) => {
      const target = `≥ ${NAIVE_RATIO[store]}× the naive server's throughput with ${storeName(store)}`;
      const cell = `${storeName(store)}, ${readings} reading${readings === 1 ? '' : 's'} a message`;
      const comparison = comparisons.find((c) => c.store === store && c.readings === readings);
      const ratio = num(comparison?.throughputRatio);
      if (ratio === undefined) return notMeasured('17.3', target, cell);
      return {
        item: '17.3',
        target,
        cell,
        figure: `${comparison?.oursPerSecond} ÷ ${comparison?.naivePerSecond} msg/s = ${ratio}×`,
        met: ratio >= (NAIVE_RATIO[store] ?? Number.POSITIVE_INFINITY),
      };
    }),
  );
}

function embeddedPerReadingLines(results: ReadonlyMap<string, SectionResult>): TargetLine[] {
  const target = `embedded store ≤ ${EMBEDDED_PER_READING * 100} % of a raw verify per additional reading`;
  const perReading = list(results.get('ingest-cost'), 'perReading');
  return TRANSPORTS.map((transport) => {
    const cell = `${transportName(transport)}, DuckDB, ES256`;
    const row = perReading.find((r) => r.alg === 'ES256' && r.store === 'duckdb' && r.transport === transport);
    const fraction = num(row?.fractionOfRawVerify);
    if (fraction === undefined) return notMeasured('17.4', target, cell);
    return {
      item: '17.4',
      target,
      cell,
      figure: `${row?.usPerAdditionalReading} µs = ${sig(fraction * 100)} %`,
      met: fraction <= EMBEDDED_PER_READING,
    };
  });
}

function workersLines(results: ReadonlyMap<string, SectionResult>): TargetLine[] {
  const target = 'workers scale: 1, 2 and N workers measured where the machine has the cores';
  const result = results.get('workers-scaling');
  const runs = list(result, 'runs');
  if (runs.length === 0) return [notMeasured('17.5', target, 'workers')];
  const one = num(runs.find((r) => r.workers === 1)?.messagesPerSecond);
  const figure = runs
    .map((r) => {
      const rate = num(r.messagesPerSecond);
      const ratio = one === undefined || rate === undefined ? '' : ` (${sig(rate / one)}×)`;
      return `${r.workers}: ${rate} msg/s${ratio}`;
    })
    .join(', ');
  const most = Math.max(...runs.map((r) => num(r.workers) ?? 0));
  const cores = num(result?.cores);
  return [
    {
      item: '17.5',
      target,
      cell: `${cores ?? '?'} cores`,
      figure: most > 2 ? figure : `${figure}; not measured beyond 2 workers (no machine with more cores)`,
      met: most > 2,
    },
  ];
}

function durationLine(durationSeconds: number, quick: boolean): TargetLine {
  const limit = quick ? QUICK_SUITE_SECONDS : FULL_SUITE_SECONDS;
  return {
    item: '17.6',
    target: quick ? 'the quick suite in about one minute' : 'the suite in about ten minutes',
    cell: quick ? '--quick' : 'full',
    figure: `${Math.round(durationSeconds)} s (at most ${limit} s)`,
    met: durationSeconds <= limit,
  };
}

function queryLines(results: ReadonlyMap<string, SectionResult>): TargetLine[] {
  const rows = list(results.get('query'), 'rows');
  const target = `every question through the API ≤ ${QUERY_RATIO}× the store asked directly`;
  if (rows.length === 0) return [notMeasured('18.4', target, 'query')];
  return rows.map((row) => {
    const ratio = num(row.ratio);
    const cell = `${storeName(String(row.store))}: ${row.question}`;
    if (ratio === undefined) return notMeasured('18.4', target, cell);
    return {
      item: '18.4',
      target,
      cell,
      figure: `${sig(Number(row.apiMs))} ÷ ${sig(Number(row.directMs))} ms = ${sig(ratio)}×`,
      met: ratio <= QUERY_RATIO,
    };
  });
}

/** Every target line of issues 17 and 18 for one run of the suite that took `durationSeconds`. */
export function judgeTargets(
  results: ReadonlyMap<string, SectionResult>,
  durationSeconds: number,
  quick: boolean,
): TargetLine[] {
  return [
    ...latencyLines(results),
    ...ownCostLines(results),
    ...naiveLines(results),
    ...embeddedPerReadingLines(results),
    ...workersLines(results),
    durationLine(durationSeconds, quick),
    ...queryLines(results),
  ];
}

/** The lines as a Markdown table (each target named on its first line), with a count of what was met. */
export function targetsMarkdown(lines: readonly TargetLine[]): string {
  const met = lines.filter((line) => line.met).length;
  return [
    `${met} of ${lines.length} target lines met. A cell this run did not measure counts as missed.`,
    '',
    '| item | target | cell | figure | |',
    '|---|---|---|---|---|',
    ...lines.map((line, index) => {
      const first = index === 0 || lines[index - 1]?.target !== line.target;
      const named = first ? `| ${line.item} | ${line.target} |` : '| | |';
      return `${named} ${line.cell} | ${line.figure} | ${line.met ? 'met' : '**missed**'} |`;
    }),
  ].join('\n');
}
