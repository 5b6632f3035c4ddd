import { SimulatedDevice } from '../device/simulated-device.js';
import { FaultInjector } from '../faults/fault-injector.js';
import { findDeviceKind, KindSampler } from '../kinds/index.js';
import { SeededRandom } from '../random/seeded-random.js';
import type { DeviceLink } from '../transport/device-link.js';
import { GatewayBatcher } from '../transport/gateway-batcher.js';
import { HttpIngestClient } from '../transport/http-ingest-client.js';
import { HttpLink } from '../transport/http-link.js';
import { MqttLink } from '../transport/mqtt-link.js';
import { buildRunReport, type OfflineWindow } from './build-run-report.js';
import { chooseShare } from './choose-share.js';
import { DEFAULT_CLOCK_TOLERANCE, planClockSkew } from './clock-skew-plan.js';
import { RUN_DEFAULTS, type RunOptions } from './run-options.js';
import type { RunReport } from './run-report.js';
import { RunStats } from './run-stats.js';

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
  /** Resolves with the report once every device has settled or the drain timeout passed. */
  readonly done: Promise<RunReport>;
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
  const now = options.now ?? Date.now;
  const start = now();
  const cpuStart = process.cpuUsage();
  const stats = new RunStats();
  const http =
    options.transport === 'http'
      ? new HttpIngestClient({ url: options.url, connections: options.httpConnections, timeoutMs: 30_000 })
      : undefined;
  const batcher =
    http !== undefined && options.gatewayBatch !== undefined && options.gatewayBatch > 1
      ? new GatewayBatcher(http, { maxMessages: options.gatewayBatch, lingerMs: 5 })
      : undefined;
  const perSecond = options.rate * options.readingsPerMessage;
  const samplingMs = options.durationMs ?? options.rampMs + ((options.messages ?? 0) * 1000) / options.rate;
  const ids = options.fleet.devices.map((d) => d.id);
  const offline = planOffline(ids, options, start, samplingMs);
  const dropping = new Set(chooseShare(ids, options.dropShare ?? 0, SeededRandom.from(options.seed, 'drops')));
  const dropEveryMs = options.dropEveryMs ?? RUN_DEFAULTS.dropEveryMs;
  const clockOffsets = planClockSkew(ids, options.skewShare ?? 0, options.skewMs ?? 0, options.seed);
  const timers: NodeJS.Timeout[] = [];
  const count = options.fleet.devices.length;
  const injector = new FaultInjector(options.faults ?? new Map());

  const devices = options.fleet.devices.map((entry, index) => {
    const signer = options.signers.get(entry.id);
    const kind = findDeviceKind(entry.kind);
    if (signer === undefined || kind === undefined) throw new TypeError(`device ${entry.id} has no signer or kind`);
    const link: DeviceLink =
      options.transport === 'mqtt'
        ? new MqttLink({
            url: options.url,
            signer,
            qos: options.qos,
            tokenTtlSeconds: options.tokenTtlSeconds,
            audience: options.audience,
            backoff: options.backoff,
            rng: SeededRandom.from(options.seed, 'reconnect', entry.id),
            now,
            events: stats,
          })
        : new HttpLink(
            (jws, cut) =>
              batcher === undefined ? (http as HttpIngestClient).sendMessage(jws, cut) : batcher.submit(jws, cut),
            () => stats.dropped(entry.id),
          );
    const t0 = start + Math.round((options.rampMs * index) / Math.max(1, count));
    const otherEntry = count > 1 ? options.fleet.devices[(index + 1) % count] : undefined;
    const other = otherEntry === undefined ? undefined : options.signers.get(otherEntry.id);
    return new SimulatedDevice({
      signer,
      link,
      sampler: new KindSampler(kind, SeededRandom.from(options.seed, 'sensors', entry.id)),
      schedule: { t0, perSecond, clockOffsetMs: clockOffsets.get(entry.id) ?? 0 },
      messagesPerSecond: options.rate,
      limits: options.limits,
      window: options.window,
      backoff: options.backoff,
      rng: SeededRandom.from(options.seed, 'retries', entry.id),
      now,
      events: stats,
      stopAt: {
        ...(options.durationMs === undefined ? {} : { time: start + options.durationMs }),
        ...(options.messages === undefined ? {} : { readings: options.messages * options.readingsPerMessage }),
      },
      ...(injector.active
        ? {
            faults: {
              injector,
              rng: SeededRandom.from(options.seed, 'faults', entry.id),
              context: {
                maxMessageBytes: options.limits.maxMessageBytes,
                ...(other === undefined ? {} : { other }),
                ...(options.issuerKey === undefined ? {} : { issuerKey: options.issuerKey }),
              },
            },
          }
        : {}),
    });
  });

  const at = (time: number, action: () => void) => timers.push(setTimeout(action, Math.max(0, time - now())));
  devices.forEach((device, index) => {
    const t0 = start + Math.round((options.rampMs * index) / Math.max(1, count));
    at(t0, () => device.start());
    const window = offline.get(device.id);
    if (window !== undefined) {
      at(window.from, () => void device.goOffline());
      at(window.to, () => device.goOnline());
    }
    if (dropping.has(device.id) && dropEveryMs > 0) {
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

  const snapshot = (): RunSnapshot => ({
    elapsedMs: now() - start,
    devices: devices.length,
    connected: devices.filter((d) => d.online).length,
    stats,
    inFlight: devices.reduce((sum, d) => sum + d.inFlight, 0),
    pending: devices.reduce((sum, d) => sum + d.pending, 0),
  });

  const done = (async () => {
    const lastBack = Math.max(start + samplingMs, ...[...offline.values()].map((w) => w.to));
    let deadlineTimer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      deadlineTimer = setTimeout(resolve, lastBack + options.drainTimeoutMs - now());
    });
    await Promise.race([Promise.all(devices.map((d) => d.whenSettled())), deadline]);
    clearTimeout(deadlineTimer);
    for (const timer of timers) clearTimeout(timer);
    await Promise.all(devices.map((d) => d.stop()));
    http?.close();
    const cpu = process.cpuUsage(cpuStart);
    return buildRunReport({
      options,
      devices,
      stats,
      offline,
      start,
      end: now(),
      cpu,
      injector,
      dropping: dropping.size,
      clockOffsets,
      tolerance: options.tolerance ?? DEFAULT_CLOCK_TOLERANCE,
    });
  })();

  return { snapshot, done };
}
