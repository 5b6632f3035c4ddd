import type { MessagePool } from './bench-fleet.js';
import type { MeasuredServer } from './bench-node.js';
import { metricTotal } from './bench-node.js';
import { saturateHttp } from './http-load.js';
import { saturateHttpInProcesses } from './http-load-processes.js';
import { type LoadWindow, type WindowRates, windowRates } from './load-window.js';
import { connectDevices, disconnectDevices, saturateMqtt } from './mqtt-load.js';

export type Transport = 'http' | 'mqtt';

/** How long and how hard a saturation run drives a server. */
export interface LoadShape {
  readonly warmupS: number;
  readonly measureS: number;
  /** HTTP keep-alive connections (one request in flight each). */
  readonly httpConnections: number;
  /** Unacknowledged QoS 1 publishes per MQTT device. */
  readonly mqttWindowPerDevice: number;
}

/**
 * 128 HTTP connections rather than 64: the node answers a message once its batch is written, and a
 * batch waits up to 20 ms to fill, so 64 requests in flight would cap a node at about 64 / 22 ms ≈
 * 2,900 messages/s, close to what one core verifies; 128 keep the node, not the window, the limit.
 */
export const FULL_LOAD: LoadShape = { warmupS: 2, measureS: 5, httpConnections: 128, mqttWindowPerDevice: 2 };
export const QUICK_LOAD: LoadShape = { warmupS: 0.3, measureS: 0.7, httpConnections: 32, mqttWindowPerDevice: 2 };

/** One saturation measurement: the window and what follows from it. */
export interface SaturationResult extends LoadWindow, WindowRates {
  /** Messages the node rejected during the run (its /metrics; should be 0). */
  readonly rejected: number | undefined;
  /**
   * Readings per store write during the run (its /metrics: telemetry_batch_readings), which sets how often the
   * store's fixed cost a write is paid; undefined where the node's metrics were not read.
   */
  readonly readingsPerWrite?: number | undefined;
}

/**
 * Drives `server` at saturation over `transport` with the messages of `pool` and measures a window.
 * For MQTT, every device of the pool connects first (its token from `tokens`), outside the window.
 * `rejectedMetric`: read the node's rejected-messages counter and its store writes before and after (single-process
 * nodes).
 */
export async function saturate(options: {
  readonly server: MeasuredServer;
  readonly transport: Transport;
  readonly pool: MessagePool;
  readonly tokens?: readonly string[];
  readonly load: LoadShape;
  readonly rejectedMetric: boolean;
  /** HTTP only: messages per request (more than 1 uses the batch endpoint); 1 when omitted. */
  readonly httpMessagesPerRequest?: number;
  /**
   * HTTP only: generate the load in one process per entry (pinned to that core where it names one), writing their
   * message files into `dir`; from this process when omitted.
   */
  readonly httpLoadProcesses?: { readonly cores: readonly (string | undefined)[]; readonly dir: string };
}): Promise<SaturationResult> {
  const { server, pool, load } = options;
  const rejected = () =>
    options.rejectedMetric ? metricTotal(server.httpUrl, 'telemetry_messages_rejected_total') : Promise.resolve(0);
  const writes = () =>
    options.rejectedMetric
      ? Promise.all([
          metricTotal(server.httpUrl, 'telemetry_batch_readings_sum'),
          metricTotal(server.httpUrl, 'telemetry_batch_readings_count'),
        ])
      : Promise.resolve([0, 0] as const);
  const rejectedBefore = await rejected();
  const [readingsBefore, writesBefore] = await writes();
  let window: LoadWindow;
  if (options.transport === 'http' && options.httpLoadProcesses !== undefined) {
    window = await saturateHttpInProcesses({
      server,
      messages: pool.interleaved,
      connections: load.httpConnections,
      warmupS: load.warmupS,
      measureS: load.measureS,
      loadCores: options.httpLoadProcesses.cores,
      dir: options.httpLoadProcesses.dir,
      ...(options.httpMessagesPerRequest === undefined ? {} : { messagesPerRequest: options.httpMessagesPerRequest }),
    });
  } else if (options.transport === 'http') {
    window = await saturateHttp({
      server,
      messages: pool.interleaved,
      connections: load.httpConnections,
      warmupS: load.warmupS,
      measureS: load.measureS,
      ...(options.httpMessagesPerRequest === undefined ? {} : { messagesPerRequest: options.httpMessagesPerRequest }),
    });
  } else {
    if (server.mqttUrl === undefined || options.tokens === undefined) throw new Error('MQTT needs a broker and tokens');
    const devices = await connectDevices(server.mqttUrl, pool.devices, options.tokens);
    try {
      window = await saturateMqtt({
        server,
        devices,
        messages: pool.byDevice,
        windowPerDevice: load.mqttWindowPerDevice,
        warmupS: load.warmupS,
        measureS: load.measureS,
      });
    } finally {
      await disconnectDevices(devices);
    }
  }
  const rejectedAfter = await rejected();
  const [readingsAfter, writesAfter] = await writes();
  const written = writesAfter - writesBefore;
  return {
    ...window,
    ...windowRates(window),
    rejected: options.rejectedMetric ? rejectedAfter - rejectedBefore : undefined,
    readingsPerWrite: options.rejectedMetric && written > 0 ? (readingsAfter - readingsBefore) / written : undefined,
  };
}
