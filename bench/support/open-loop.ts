import { Agent, request } from 'node:http';
import { PoolCursor } from './bench-fleet.js';
import type { MqttDevice } from './mqtt-load.js';

/** Acknowledgement latency at a fixed offered rate. */
export interface LatencyResult {
  readonly offeredPerSecond: number;
  readonly acknowledgedPerSecond: number;
  readonly sent: number;
  readonly acknowledged: number;
  readonly failed: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/**
 * Sends at `rate` messages a second for `warmupS + measureS` seconds whatever the answers
 * (open loop), and records, for the messages sent after the warm-up, the time from when each
 * message was due to be sent to its acknowledgement: measuring from the due time, not from the
 * moment the sender got round to it, keeps a stalled sender from hiding latency.
 */
async function openLoop(
  options: { readonly rate: number; readonly warmupS: number; readonly measureS: number },
  send: (index: number, acknowledged: (ok: boolean) => void) => void,
): Promise<LatencyResult> {
  const latencies: number[] = [];
  let failed = 0;
  let sent = 0;
  let pending = 0;
  const start = performance.now();
  const warmupEnd = start + options.warmupS * 1000;
  const end = warmupEnd + options.measureS * 1000;
  let drained: (() => void) | undefined;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.floor(((Math.min(now, end) - start) / 1000) * options.rate);
      while (sent < due) {
        const dueAt = start + (sent * 1000) / options.rate;
        const measured = dueAt >= warmupEnd;
        pending++;
        send(sent, (ok) => {
          pending--;
          if (measured) {
            if (ok) latencies.push(performance.now() - dueAt);
            else failed++;
          }
          if (pending === 0) drained?.();
        });
        sent++;
      }
      if (now >= end) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  if (pending > 0) {
    await new Promise<void>((resolve) => {
      drained = resolve;
      setTimeout(resolve, 30_000).unref();
    });
  }
  latencies.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    offeredPerSecond: options.rate,
    acknowledgedPerSecond: latencies.length / options.measureS,
    sent,
    acknowledged: latencies.length,
    failed,
    p50Ms: round(percentile(latencies, 50)),
    p90Ms: round(percentile(latencies, 90)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies.at(-1) ?? Number.NaN),
  };
}

/** Open-loop `POST /v1/messages` at `rate` over keep-alive connections (as many as are needed at once). */
export async function httpLatency(options: {
  readonly httpUrl: string;
  readonly messages: readonly string[];
  readonly rate: number;
  readonly warmupS: number;
  readonly measureS: number;
}): Promise<LatencyResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const cursor = new PoolCursor(options.messages);
  const url = new URL('/v1/messages', options.httpUrl);
  try {
    return await openLoop(options, (_, acknowledged) => {
      const body = cursor.next();
      const req = request(
        url,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/jose', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.once('end', () => acknowledged(res.statusCode === 200));
        },
      );
      req.once('error', () => acknowledged(false));
      req.end(body);
    });
  } finally {
    agent.destroy();
  }
}

/** Open-loop QoS 1 publishes at `rate` in total, the devices taking turns; latency is to the PUBACK. */
export async function mqttLatency(options: {
  readonly devices: readonly MqttDevice[];
  readonly messages: readonly (readonly string[])[];
  readonly rate: number;
  readonly warmupS: number;
  readonly measureS: number;
}): Promise<LatencyResult> {
  const cursors = options.devices.map((_, i) => new PoolCursor(options.messages[i] ?? []));
  return openLoop(options, (index, acknowledged) => {
    const d = index % options.devices.length;
    const device = options.devices[d] as MqttDevice;
    device.client.publish(device.topic, (cursors[d] as PoolCursor).next(), { qos: 1 }, (error) =>
      acknowledged(error === undefined || error === null),
    );
  });
}
