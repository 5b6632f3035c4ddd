import type { SimulatedDevice } from '../device/simulated-device.js';
import { SeededRandom } from '../random/seeded-random.js';
import { buildRunReport } from './build-run-report.js';
import { DEFAULT_CLOCK_TOLERANCE } from './clock-skew-plan.js';
import { buildDevices } from './run-devices.js';
import type { RunOptions } from './run-options.js';
import { deviceStart, openHttp, planRun, type RunHttp, type RunPlan } from './run-plan.js';
import type { RunReport } from './run-report.js';
import type { RunStats } from './run-stats.js';

/** A run's state at one moment, for the progress line. */
export interface RunSnapshot {
  readonly elapsedMs: number;
  readonly devices: number;
  readonly connected: number;
  readonly stats: RunStats;
  readonly inFlight: number;
  readonly pending: number;
}

/** A run under way. */
export interface RunHandle {
  snapshot(): RunSnapshot;
  /**
   * Ends the run early (a signal): devices stop sampling and sending, the answers to what is in flight
   * are awaited for up to `graceMs`, and the report, marked interrupted, follows. A second call stops the
   * wait at once.
   */
  interrupt(reason: string, graceMs: number): void;
  /** Resolves with the report once every device has settled, the drain timeout passed, or the run was interrupted. */
  readonly done: Promise<RunReport>;
}

/** Why and how a run was cut short, once it is. */
interface Interruption {
  readonly reason: string;
  readonly graceMs: number;
  /** Resolves when the wait for answers is to end now. */
  readonly hurry: Promise<void>;
}

/** The interrupt side of a run: a promise that resolves on the first interrupt, and the call that makes it. */
function interruptible() {
  let first: ((interruption: Interruption) => void) | undefined;
  let hurry: (() => void) | undefined;
  const interrupted = new Promise<Interruption>((resolve) => {
    first = resolve;
  });
  const interrupt = (reason: string, graceMs: number) => {
    if (first === undefined) {
      hurry?.();
      return;
    }
    const resolve = first;
    first = undefined;
    resolve({ reason, graceMs, hurry: new Promise<void>((done) => (hurry = done)) });
  };
  return { interrupted, interrupt };
}

/** Halts every device and waits, at most `graceMs` or until hurried, for the answers to what is in flight. */
async function haltDevices(devices: readonly SimulatedDevice[], interruption: Interruption): Promise<void> {
  for (const device of devices) device.halt();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(devices.map((d) => d.whenNothingInFlight())),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, interruption.graceMs);
    }),
    interruption.hurry,
  ]);
  clearTimeout(timer);
}

/**
 * Sets the timers that start each device, take it offline and back, and cut
 * its connection now and then; returns them (cuts add theirs as they come).
 */
function scheduleDevices(plan: RunPlan, devices: readonly SimulatedDevice[]): NodeJS.Timeout[] {
  const { options, now, start, samplingMs, dropEveryMs } = plan;
  const timers: NodeJS.Timeout[] = [];
  const at = (time: number, action: () => void) => timers.push(setTimeout(action, Math.max(0, time - now())));
  devices.forEach((device, index) => {
    const t0 = deviceStart(plan, index);
    at(t0, () => device.start());
    const window = plan.offline.get(device.id);
    if (window !== undefined) {
      at(window.from, () => void device.goOffline());
      at(window.to, () => device.goOnline());
    }
    if (plan.dropping.has(device.id) && dropEveryMs > 0) {
      // Each dropping device cuts at its own phase, then every dropEveryMs while it samples.
      const phase = SeededRandom.from(options.seed, 'drop-phase', device.id).between(0, dropEveryMs);
      const cutAt = (time: number): void => {
        if (time >= start + samplingMs) return;
        at(time, () => {
          device.cutConnection();
          cutAt(time + dropEveryMs);
        });
      };
      cutAt(t0 + Math.round(phase));
    }
  });
  return timers;
}

/** The run's state now, summed over its devices. */
function snapshotOf(plan: RunPlan, devices: readonly SimulatedDevice[]): RunSnapshot {
  return {
    elapsedMs: plan.now() - plan.start,
    devices: devices.length,
    connected: devices.filter((d) => d.online).length,
    stats: plan.stats,
    inFlight: devices.reduce((sum, d) => sum + d.inFlight, 0),
    pending: devices.reduce((sum, d) => sum + d.pending, 0),
  };
}

/**
 * Waits until every device has settled, or the drain timeout has passed since
 * sampling ended and the last offline device came back; then stops it all and reports.
 */
async function finishRun(
  plan: RunPlan,
  devices: readonly SimulatedDevice[],
  timers: readonly NodeJS.Timeout[],
  http: RunHttp | undefined,
  interrupted: Promise<Interruption>,
): Promise<RunReport> {
  const { options, now, start, offline } = plan;
  const lastBack = Math.max(start + plan.samplingMs, ...[...offline.values()].map((w) => w.to));
  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    deadlineTimer = setTimeout(resolve, lastBack + options.drainTimeoutMs - now());
  });
  const interruption = await Promise.race([
    Promise.all(devices.map((d) => d.whenSettled())).then(() => undefined),
    deadline.then(() => undefined),
    interrupted,
  ]);
  clearTimeout(deadlineTimer);
  for (const timer of timers) clearTimeout(timer);
  if (interruption !== undefined) await haltDevices(devices, interruption);
  await Promise.all(devices.map((d) => d.stop()));
  http?.client.close();
  const cpu = process.cpuUsage(plan.cpuStart);
  return buildRunReport({
    options,
    devices,
    stats: plan.stats,
    offline,
    start,
    end: now(),
    cpu,
    injector: plan.injector,
    dropping: plan.dropping.size,
    clockOffsets: plan.clockOffsets,
    tolerance: options.tolerance ?? DEFAULT_CLOCK_TOLERANCE,
    ...(interruption === undefined ? {} : { interruptedBy: interruption.reason }),
  });
}

/**
 * Runs a fleet against a node: every device samples its sensors in real time,
 * sends over HTTP or MQTT with its own client-side state, and the run ends when
 * everything sampled is acknowledged or dropped (or the drain timeout passes).
 *
 * @example
 * const run = startRun({ ...options, transport: 'http', url: 'http://127.0.0.1:8080' });
 * const report = await run.done;
 */
export function startRun(options: RunOptions): RunHandle {
  const plan = planRun(options);
  const http = openHttp(options);
  const devices = buildDevices(plan, http);
  const timers = scheduleDevices(plan, devices);
  const { interrupted, interrupt } = interruptible();
  return {
    snapshot: () => snapshotOf(plan, devices),
    interrupt,
    done: finishRun(plan, devices, timers, http, interrupted),
  };
}
