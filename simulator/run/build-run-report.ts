import type { SimulatedDevice } from '../device/simulated-device.js';
import { type FaultInjector, faultProblems } from '../faults/fault-injector.js';
import { beyondTolerance, type ClockTolerance, OUT_OF_RANGE_CODE } from './clock-skew-plan.js';
import { RUN_DEFAULTS, type RunOptions } from './run-options.js';
import type { DeviceReport, RunReport, SkewReport } from './run-report.js';
import type { RunStats } from './run-stats.js';

/** When a device was made to go offline, ms since the epoch. */
export interface OfflineWindow {
  readonly from: number;
  readonly to: number;
}

export interface RunOutcome {
  readonly options: RunOptions;
  readonly devices: readonly SimulatedDevice[];
  readonly stats: RunStats;
  readonly offline: ReadonlyMap<string, OfflineWindow>;
  readonly start: number;
  readonly end: number;
  readonly cpu: NodeJS.CpuUsage;
  readonly injector?: FaultInjector;
  /** Devices whose connection was cut now and then. */
  readonly dropping?: number;
  /** Devices whose clock was off, by how much, ms. */
  readonly clockOffsets?: ReadonlyMap<string, number>;
  readonly tolerance?: ClockTolerance;
}

/** Messages refused with ERR_TIMESTAMP_OUT_OF_RANGE by devices whose clock is beyond the node's tolerance. */
function expectedOutOfRange(outcome: RunOutcome): { devices: number; rejected: number } {
  const { clockOffsets, tolerance } = outcome;
  if (clockOffsets === undefined || tolerance === undefined) return { devices: 0, rejected: 0 };
  let devices = 0;
  let rejected = 0;
  for (const device of outcome.devices) {
    const offset = clockOffsets.get(device.id);
    if (offset === undefined || !beyondTolerance(offset, tolerance)) continue;
    devices++;
    rejected += device.rejected.get(OUT_OF_RANGE_CODE) ?? 0;
  }
  return { devices, rejected };
}

const record = (counts: ReadonlyMap<string, number>) =>
  Object.fromEntries([...counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
const round = (value: number, decimals = 3) => Math.round(value * 10 ** decimals) / 10 ** decimals;

/** What went wrong that was not injected on purpose; the run exits non-zero when there is any. */
function problemsOf(outcome: RunOutcome): string[] {
  const { devices, stats } = outcome;
  const problems: string[] = [];
  const expected = expectedOutOfRange(outcome).rejected;
  for (const [code, count] of stats.rejections) {
    const unexpected = code === OUT_OF_RANGE_CODE ? count - expected : count;
    if (unexpected > 0) problems.push(`${unexpected} message(s) refused for good with ${code}`);
  }
  const silent = devices.filter((d) => !d.linkEverConnected);
  if (silent.length > 0) {
    const names = silent
      .slice(0, 5)
      .map((d) => d.id)
      .join(', ');
    problems.push(`${silent.length} device(s) never got through to a node: ${names}${silent.length > 5 ? ', …' : ''}`);
  }
  const pending = devices.reduce((sum, d) => sum + d.pending, 0);
  if (pending > 0) problems.push(`${pending} message(s) still unacknowledged when the drain timeout passed`);
  const unsent = devices.reduce((sum, d) => sum + d.buffered, 0);
  if (unsent > 0) problems.push(`${unsent} reading(s) never sent`);
  if (outcome.injector !== undefined) problems.push(...faultProblems(outcome.injector.toJSON()));
  return problems;
}

/** One device's part of the report: its schedule, what became of its readings, its offline window. */
function deviceReport(outcome: RunOutcome, device: SimulatedDevice, index: number): DeviceReport {
  const entry = outcome.options.fleet.devices[index];
  const window = outcome.offline.get(device.id);
  return {
    id: device.id,
    kind: entry?.kind ?? '',
    t0: device.schedule.t0,
    perSecond: device.schedule.perSecond,
    sampled: device.sampled,
    acknowledged: device.acknowledged.toJSON(),
    unconfirmed: device.unconfirmed.toJSON(),
    rejected: record(device.rejected),
    pendingAtEnd: device.pending,
    everConnected: device.linkEverConnected,
    offline: window === undefined ? [] : [window],
    ...(device.schedule.clockOffsetMs ? { clockOffsetMs: device.schedule.clockOffsetMs } : {}),
  };
}

/** The settings the run was made with, defaults filled in. */
function settingsOf(options: RunOptions): RunReport['settings'] {
  return {
    fleet: options.fleetDir,
    transport: options.transport,
    url: options.url,
    qos: options.qos,
    mqttAcks: options.mqttAcks ?? 'puback',
    rate: options.rate,
    readingsPerMessage: options.readingsPerMessage,
    maxReadingsPerMessage: options.limits.maxReadingsPerMessage,
    gatewayBatch: options.gatewayBatch ?? null,
    durationMs: options.durationMs ?? null,
    messages: options.messages ?? null,
    rampMs: options.rampMs,
    offlineShare: options.offlineShare,
    offlineForMs: options.offlineForMs,
    dropShare: options.dropShare ?? 0,
    dropEveryMs: options.dropEveryMs ?? RUN_DEFAULTS.dropEveryMs,
    skewShare: options.skewShare ?? 0,
    skewMs: options.skewMs ?? 0,
    seed: options.seed,
  };
}

/** Messages and readings over the whole fleet, by what became of them. */
function totalsOf(devices: readonly SimulatedDevice[], stats: RunStats): RunReport['totals'] {
  return {
    devices: devices.length,
    devicesConnected: devices.filter((d) => d.linkEverConnected).length,
    attempts: stats.attempts,
    messagesSent: devices.reduce((sum, d) => sum + d.sent, 0),
    messagesAcknowledged: stats.messagesAcknowledged,
    messagesUnconfirmed: stats.messagesUnconfirmed,
    messagesRejected: stats.messagesRejected,
    messagesPendingAtEnd: devices.reduce((sum, d) => sum + d.pending, 0),
    readingsSampled: devices.reduce((sum, d) => sum + d.sampled, 0),
    readingsAcknowledged: stats.readingsAcknowledged,
    readingsUnconfirmed: stats.readingsUnconfirmed,
    readingsRejected: stats.readingsRejected,
    connects: stats.connects,
    disconnects: stats.disconnects,
  };
}

/** Throughput, latency and CPU: how fast the run went and what it cost the simulator. */
function performanceOf(outcome: RunOutcome): Pick<RunReport, 'throughput' | 'latencyMs'> {
  const { stats, start, end } = outcome;
  const seconds = Math.max(0.001, (end - start) / 1000);
  return {
    throughput: {
      messagesPerSecond: round((stats.messagesAcknowledged + stats.messagesUnconfirmed) / seconds, 1),
      readingsPerSecond: round((stats.readingsAcknowledged + stats.readingsUnconfirmed) / seconds, 1),
    },
    latencyMs: {
      count: stats.latency.count,
      p50: round(stats.latency.quantile(0.5)),
      p95: round(stats.latency.quantile(0.95)),
      p99: round(stats.latency.quantile(0.99)),
      max: round(stats.latency.max),
    },
  };
}

/** The simulator's CPU time over the run, and per attempt. */
function cpuOf(outcome: RunOutcome): RunReport['cpu'] {
  const { cpu, stats } = outcome;
  const attempts = Math.max(1, stats.attempts);
  return {
    userMs: round(cpu.user / 1000, 1),
    systemMs: round(cpu.system / 1000, 1),
    perMessageUs: round((cpu.user + cpu.system) / attempts, 1),
  };
}

/** The sections only a run that injected faults, cut connections or skewed clocks has. */
function optionalSections(outcome: RunOutcome): Pick<RunReport, 'faults' | 'drops' | 'skew'> {
  const { options, stats } = outcome;
  return {
    ...(outcome.injector?.active === true ? { faults: outcome.injector.toJSON() } : {}),
    ...((options.dropShare ?? 0) > 0 ? { drops: { devices: outcome.dropping ?? 0, cuts: stats.drops } } : {}),
    ...((outcome.clockOffsets?.size ?? 0) > 0 ? { skew: skewReport(outcome) } : {}),
  };
}

/** The report of a finished run. */
export function buildRunReport(outcome: RunOutcome): RunReport {
  const { options, devices, stats, start, end } = outcome;
  const problems = problemsOf(outcome);
  const deviceReports = devices.map((device, index) => deviceReport(outcome, device, index));
  return {
    version: 1,
    startedAt: new Date(start).toISOString(),
    finishedAt: new Date(end).toISOString(),
    settings: settingsOf(options),
    totals: totalsOf(devices, stats),
    ...performanceOf(outcome),
    errors: record(stats.rejections),
    retries: record(stats.retries),
    connectFailures: record(stats.connectFailures),
    cpu: cpuOf(outcome),
    ...optionalSections(outcome),
    ok: problems.length === 0,
    problems,
    devices: deviceReports,
  };
}

/** The skew section: devices off, those beyond the node's window, and their refusals. */
function skewReport(outcome: RunOutcome): SkewReport {
  const expected = expectedOutOfRange(outcome);
  const tolerance = outcome.tolerance;
  return {
    devices: outcome.clockOffsets?.size ?? 0,
    beyondTolerance: expected.devices,
    rejectedAsExpected: expected.rejected,
    toleranceMs: { future: tolerance?.futureMs ?? 0, past: tolerance?.pastMs ?? 0 },
  };
}
