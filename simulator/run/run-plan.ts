import { FaultInjector } from '../faults/fault-injector.js';
import { SeededRandom } from '../random/seeded-random.js';
import { GatewayBatcher } from '../transport/gateway-batcher.js';
import { HttpIngestClient } from '../transport/http-ingest-client.js';
import type { HttpSend } from '../transport/http-link.js';
import type { OfflineWindow } from './build-run-report.js';
import { chooseShare } from './choose-share.js';
import { planClockSkew } from './clock-skew-plan.js';
import { RUN_DEFAULTS, type RunOptions } from './run-options.js';
import { RunStats } from './run-stats.js';

/** What a run decided before its devices start: its clock, which devices misbehave and how, its tallies. */
export interface RunPlan {
  readonly options: RunOptions;
  readonly now: () => number;
  /** When the run started, ms since the epoch, and the process's CPU time then. */
  readonly start: number;
  readonly cpuStart: NodeJS.CpuUsage;
  /** How long devices sample, ms from `start`. */
  readonly samplingMs: number;
  readonly offline: ReadonlyMap<string, OfflineWindow>;
  /** Devices whose connection is cut every `dropEveryMs`. */
  readonly dropping: ReadonlySet<string>;
  readonly dropEveryMs: number;
  readonly clockOffsets: ReadonlyMap<string, number>;
  readonly injector: FaultInjector;
  readonly stats: RunStats;
}

/** How the devices of an HTTP run reach the node (absent for MQTT, where each device has its own connection). */
export interface RunHttp {
  readonly client: HttpIngestClient;
  readonly send: HttpSend;
}

/** Which devices go offline, and when: a seeded choice of `share` of them, inside the sampling period. */
function planOffline(ids: readonly string[], options: RunOptions, start: number, samplingMs: number) {
  const rng = SeededRandom.from(options.seed, 'offline');
  const plan = new Map<string, OfflineWindow>();
  const latest = Math.max(options.rampMs, samplingMs - options.offlineForMs);
  for (const id of chooseShare(ids, options.offlineShare, rng)) {
    const from = Math.round(start + options.rampMs + rng.between(0, Math.max(0, latest - options.rampMs)));
    plan.set(id, { from, to: from + options.offlineForMs });
  }
  return plan;
}

/** Starts the run's clock and plans its offline windows, connection drops, clock skew and faults. */
export function planRun(options: RunOptions): RunPlan {
  const now = options.now ?? Date.now;
  const start = now();
  const cpuStart = process.cpuUsage();
  const samplingMs = options.durationMs ?? options.rampMs + ((options.messages ?? 0) * 1000) / options.rate;
  const ids = options.fleet.devices.map((d) => d.id);
  return {
    options,
    now,
    start,
    cpuStart,
    samplingMs,
    offline: planOffline(ids, options, start, samplingMs),
    dropping: new Set(chooseShare(ids, options.dropShare ?? 0, SeededRandom.from(options.seed, 'drops'))),
    dropEveryMs: options.dropEveryMs ?? RUN_DEFAULTS.dropEveryMs,
    clockOffsets: planClockSkew(ids, options.skewShare ?? 0, options.skewMs ?? 0, options.seed),
    injector: new FaultInjector(options.faults ?? new Map()),
    stats: new RunStats(),
  };
}

/** The fleet's shared HTTP client, posting through a gateway batcher when `gatewayBatch` asks for one. */
export function openHttp(options: RunOptions): RunHttp | undefined {
  if (options.transport !== 'http') return undefined;
  const client = new HttpIngestClient({ url: options.url, connections: options.httpConnections, timeoutMs: 30_000 });
  const batcher =
    options.gatewayBatch !== undefined && options.gatewayBatch > 1
      ? new GatewayBatcher(client, { maxMessages: options.gatewayBatch, lingerMs: 5 })
      : undefined;
  const send: HttpSend = (jws, cut) =>
    batcher === undefined ? client.sendMessage(jws, cut) : batcher.submit(jws, cut);
  return { client, send };
}

/** When the device at `index` of the fleet takes its first reading: devices start spread over the ramp. */
export function deviceStart(plan: RunPlan, index: number): number {
  const count = plan.options.fleet.devices.length;
  return plan.start + Math.round((plan.options.rampMs * index) / Math.max(1, count));
}
