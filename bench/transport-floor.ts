/**
 * The transport floor (docs/PERFORMANCE.md, after §2): what a message costs a server that does only
 * the transport work — a bare node:http server, bare fastify, bare aedes and a bare mqtt-packet
 * parser (bench/transport-floor-server.ts), none verifying, parsing or storing anything — driven
 * by exactly the load of the ingest-cost section's single-reading cells: the same load generator
 * and load shape, the same devices, connection tokens and signed one-reading ES256 messages. Its
 * CPU per acknowledged message, over one raw ES256 verify, says how close to that verify any
 * Node.js ingest node can get on the machine: `1 + floor / raw verify` is the best ratio reachable.
 *
 *   npx tsx bench/transport-floor.ts [--quick] [--raw-es256 µs] [--kinds node-http,fastify,aedes,mqtt-packet]
 *
 * Prints a `BENCH_RESULT {json}` line for bench/run-suite.ts.
 */
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/server-process.js';
import { TARGETS } from './ingest-cost.js';
import { connectionTokens, makeBenchFleet, signMessagePool } from './support/bench-fleet.js';
import { type MeasuredServer, spawnMeasuredServer } from './support/bench-node.js';
import { printResult, progress, type SectionResult, sectionArgs, sig, sigNumbers } from './support/bench-result.js';
import { messagesPerDevice } from './support/bench-setup.js';
import { benchRuntime, type NodeRuntime, ROOT, scriptArgs } from './support/node-runtime.js';
import { rawVerifyCosts } from './support/raw-verify.js';
import {
  FULL_LOAD,
  type LoadShape,
  QUICK_LOAD,
  type SaturationResult,
  saturate,
  type Transport,
} from './support/saturation.js';
import {
  FLOOR_KINDS,
  type FloorKind,
  floorReadyLine,
  floorTransport,
  isFloorKind,
} from './support/transport-floor-kinds.js';

export { FLOOR_KINDS, type FloorKind, floorTransport } from './support/transport-floor-kinds.js';

/** ingest-cost's expected rate for one-reading messages: the pool is sized the same, so the messages are the same. */
const SINGLE_READING_RATE = 6000;

/** One floor server measured at saturation. */
export interface FloorCell {
  readonly kind: FloorKind;
  readonly transport: Transport;
  readonly messageBytes: number;
  readonly result: SaturationResult;
  /** Server CPU per acknowledged message over one raw ES256 verify. */
  readonly ratioToRawVerify: number;
}

/** The best ratio to raw verify a node on one transport can reach: its cheapest floor plus the verify itself. */
export interface BestReachable {
  readonly transport: Transport;
  /** The floor server with the lowest CPU per message on this transport. */
  readonly cheapestKind: FloorKind;
  readonly minFloorUs: number;
  /** 1 + min floor / raw verify. */
  readonly bestReachableRatio: number;
}

/** Starts one floor server (bench/transport-floor-server.ts) on a free loopback port. */
export async function startFloorServer(options: {
  readonly runtime: NodeRuntime;
  readonly kind: FloorKind;
}): Promise<MeasuredServer> {
  const port = await freePort();
  const transport = floorTransport(options.kind);
  const url = `${transport}://127.0.0.1:${port}`;
  return spawnMeasuredServer({
    args: [
      ...scriptArgs('bench/transport-floor-server.ts', options.runtime),
      '--kind',
      options.kind,
      '--port',
      String(port),
    ],
    env: {},
    cwd: ROOT,
    // An MQTT floor serves no HTTP; nothing fetches httpUrl when saturate() reads no metric.
    httpUrl: transport === 'http' ? url : `http://127.0.0.1:${port}`,
    ...(transport === 'mqtt' ? { mqttUrl: url } : {}),
    ready: async (output) => output.includes(floorReadyLine(options.kind)),
  });
}

export interface TransportFloorOptions {
  readonly runtime: NodeRuntime;
  readonly load: LoadShape;
  readonly devices: number;
  readonly kinds: readonly FloorKind[];
  /** Raw ES256 verify, CPU µs. */
  readonly rawUs: number;
  /**
   * Unmeasured passes of the same load before the measured one (default 1). The floor servers are
   * so cheap that a cold load generator, not the server, sets the pace of whichever kind runs first.
   */
  readonly primingPasses?: number;
}

/**
 * Measures each floor server with ingest-cost's single-reading load: an ES256 fleet of
 * `options.devices` devices, their connection tokens, and a one-reading message pool sized as
 * ingest-cost sizes it.
 */
export async function runTransportFloor(options: TransportFloorOptions): Promise<FloorCell[]> {
  const fleet = await makeBenchFleet({ devices: options.devices, alg: 'ES256' });
  const tokens = await connectionTokens(fleet);
  const pool = await signMessagePool(fleet, {
    readingsPerMessage: 1,
    messagesPerDevice: messagesPerDevice(SINGLE_READING_RATE, options.load, options.devices),
    startTs: Date.now() - 3_600_000,
  });
  const cells: FloorCell[] = [];
  for (const kind of options.kinds) {
    const transport = floorTransport(kind);
    const server = await startFloorServer({ runtime: options.runtime, kind });
    try {
      const drive = () => saturate({ server, transport, pool, tokens, load: options.load, rejectedMetric: false });
      for (let p = 0; p < (options.primingPasses ?? 1); p++) await drive();
      const result = await drive();
      const cell: FloorCell = {
        kind,
        transport,
        messageBytes: pool.averageBytes,
        result,
        ratioToRawVerify: result.cpuUsPerMessage / options.rawUs,
      };
      cells.push(cell);
      progress(
        `  ${kind.padEnd(11)} ${transport.padEnd(4)} ${sig(result.messagesPerSecond)} msg/s, ` +
          `${sig(result.cpuUsPerMessage)} µs CPU/msg (${sig(cell.ratioToRawVerify)}× raw verify), ` +
          `server ${sig(result.serverCores)} cores, load generator ${sig(result.loadCores)} cores` +
          `${result.failed > 0 ? `, ${result.failed} FAILED` : ''}${result.poolWraps > 0 ? `, pool wrapped ${result.poolWraps}×` : ''}`,
      );
    } finally {
      await server.stop();
    }
  }
  return cells;
}

/** Per transport, the cheapest floor and the best ratio to raw verify it leaves reachable. */
export function bestReachable(cells: readonly FloorCell[], rawUs: number): BestReachable[] {
  const out: BestReachable[] = [];
  for (const transport of ['http', 'mqtt'] as const) {
    const measured = cells.filter((c) => c.transport === transport && Number.isFinite(c.result.cpuUsPerMessage));
    const cheapest = measured.reduce<FloorCell | undefined>(
      (best, c) => (best === undefined || c.result.cpuUsPerMessage < best.result.cpuUsPerMessage ? c : best),
      undefined,
    );
    if (cheapest === undefined) continue;
    out.push({
      transport,
      cheapestKind: cheapest.kind,
      minFloorUs: cheapest.result.cpuUsPerMessage,
      bestReachableRatio: 1 + cheapest.result.cpuUsPerMessage / rawUs,
    });
  }
  return out;
}

const KIND_LABEL: Readonly<Record<FloorKind, string>> = {
  'node-http': 'node:http',
  fastify: 'fastify',
  aedes: 'aedes',
  'mqtt-packet': 'mqtt-packet parser',
};

/** The section's tables in Markdown. */
export function transportFloorMarkdown(cells: readonly FloorCell[], rawUs: number, target: number): string {
  const best = bestReachable(cells, rawUs);
  return [
    `Raw verify (node:crypto, ES256, key prepared once): ${sig(rawUs)} µs CPU. Servers that only take a message ` +
      `and acknowledge it (no verification, parsing or storing), driven like ingest-cost's 1-reading cells.`,
    '',
    '| floor server | transport | msg/s | server CPU µs/msg | floor ÷ raw verify | server cores | load-gen cores |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...cells.map(
      (c) =>
        `| ${KIND_LABEL[c.kind]} | ${c.transport.toUpperCase()} | ${sig(c.result.messagesPerSecond)} | ` +
        `${sig(c.result.cpuUsPerMessage)} | **${sig(c.ratioToRawVerify)}** | ${sig(c.result.serverCores)} | ${sig(c.result.loadCores)} |`,
    ),
    '',
    `| transport | cheapest floor | min floor µs/msg | best reachable ratio = 1 + min floor ÷ raw verify (target ≤ ${target}×) |`,
    '|---|---|---:|---:|',
    ...best.map(
      (b) =>
        `| ${b.transport.toUpperCase()} | ${KIND_LABEL[b.cheapestKind]} | ${sig(b.minFloorUs)} | **${sig(b.bestReachableRatio)}×** |`,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const args = sectionArgs();
  const passed = args.values.get('raw-es256');
  const raw =
    passed !== undefined
      ? { rawUs: Number(passed), source: 'passed by the runner' }
      : await rawVerifyCosts({ quick: args.quick, iterations: args.quick ? 2_000 : 20_000 }).then((r) => ({
          rawUs: r.costs.ES256.rawUs,
          source: r.source,
        }));
  if (!(raw.rawUs > 0)) throw new Error(`no raw ES256 verify cost (got ${passed})`);
  // --quick measures only the floors the targets are judged against (the libraries the node uses).
  const defaultKinds: readonly string[] = args.quick ? ['fastify', 'aedes'] : FLOOR_KINDS;
  const kinds = (args.values.get('kinds')?.split(',') ?? [...defaultKinds])
    .map((k) => k.trim())
    .filter((k) => k !== '');
  const unknown = kinds.filter((k) => !isFloorKind(k));
  if (unknown.length > 0) throw new Error(`unknown --kinds ${unknown.join(', ')}; known: ${FLOOR_KINDS.join(', ')}`);
  const runtime = benchRuntime();
  progress(`transport floor: runtime ${runtime}, raw ES256 verify ${sig(raw.rawUs)} µs from ${raw.source}`);
  const options: TransportFloorOptions = {
    runtime,
    load: args.quick ? QUICK_LOAD : FULL_LOAD,
    devices: args.quick ? 20 : 200,
    kinds: kinds.filter(isFloorKind),
    rawUs: raw.rawUs,
  };
  const cells = await runTransportFloor(options);
  const best = bestReachable(cells, raw.rawUs);
  const result: SectionResult = {
    section: 'transport-floor',
    runtime,
    rawVerify: { ES256: { rawUs: sig(raw.rawUs) } },
    rawVerifySource: raw.source,
    load: options.load,
    devices: options.devices,
    cells: cells.map((c) => ({
      ...c,
      result: sigNumbers(c.result),
      ratioToRawVerify: sig(c.ratioToRawVerify),
    })),
    bestReachable: best.map((b) => ({
      ...b,
      minFloorUs: sig(b.minFloorUs),
      bestReachableRatio: sig(b.bestReachableRatio),
      note: `best reachable ratio = 1 + min floor / raw verify = 1 + ${sig(b.minFloorUs)} / ${sig(raw.rawUs)}`,
    })),
    markdown: transportFloorMarkdown(cells, raw.rawUs, TARGETS.singleReadingRatio),
  };
  printResult(result);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
