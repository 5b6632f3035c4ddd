import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorCode } from '../src/errors.js';
import type { BatchWriterEvents } from '../src/pipeline/batch-writer.js';
import type { IngestContext, IngestEvents } from '../src/pipeline/ingest-pipeline.js';
import type { VerifiedMessage } from '../src/protocol/message.js';
import { packageVersion } from './package-version.js';

/**
 * The node's Prometheus metrics, in a registry of its own so that several
 * nodes can live in one test process. Names are documented in docs/OPERATIONS.md.
 */
export class IngestMetrics implements IngestEvents, BatchWriterEvents {
  readonly registry = new Registry();
  /**
   * Accepted messages not yet added to the counter, by transport: a plain count per message, added when the
   * registry is read (prom-client builds and looks up a label key string on every `inc`).
   */
  readonly #acceptedSinceCollect = new Map<string, number>();
  readonly #accepted: Counter = new Counter({
    name: 'telemetry_messages_accepted_total',
    help: 'Messages verified and stored, by transport',
    labelNames: ['transport'],
    registers: [this.registry],
    collect: (): void => {
      for (const [transport, count] of this.#acceptedSinceCollect) {
        if (count > 0) this.#accepted.inc({ transport }, count);
      }
      this.#acceptedSinceCollect.clear();
    },
  });
  readonly #rejected = new Counter({
    name: 'telemetry_messages_rejected_total',
    help: 'Messages not acknowledged, by transport and error code',
    labelNames: ['transport', 'code'],
    registers: [this.registry],
  });
  readonly #readings = new Counter({
    name: 'telemetry_readings_written_total',
    help: 'Readings the store accepted',
    registers: [this.registry],
  });
  readonly #batchSize = new Histogram({
    name: 'telemetry_batch_readings',
    help: 'Readings per store write',
    buckets: [1, 10, 50, 100, 500, 1000, 2500, 5000, 10000],
    registers: [this.registry],
  });
  readonly #writeSeconds = new Histogram({
    name: 'telemetry_store_write_seconds',
    help: 'Store write latency, by outcome',
    labelNames: ['outcome'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  #inflightSource: () => number = () => 0;
  readonly inflight: Gauge = new Gauge({
    name: 'telemetry_inflight_readings',
    help: 'Readings accepted for writing and not yet stored',
    registers: [this.registry],
    collect: (): void => this.inflight.set(this.#inflightSource()),
  });
  readonly mqttConnections = new Gauge({
    name: 'telemetry_mqtt_connections',
    help: 'MQTT device connections open on this node',
    registers: [this.registry],
  });
  readonly #ackSeconds = new Histogram({
    name: 'telemetry_ack_seconds',
    help: 'Time from a message received to its acknowledgement sent (HTTP answer, MQTT PUBACK), by transport',
    labelNames: ['transport'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly #connectionsRefused = new Counter({
    name: 'telemetry_mqtt_connections_refused_total',
    help: 'MQTT CONNECTs the embedded broker refused, by error code and CONNACK return code',
    labelNames: ['code', 'connack'],
    registers: [this.registry],
  });
  #pausedSource: () => number = () => 0;
  readonly #pausedConnections: Gauge = new Gauge({
    name: 'telemetry_mqtt_connections_paused',
    help: 'MQTT connections the node has stopped reading from (backpressure: their publishes fill the window)',
    registers: [this.registry],
    collect: (): void => this.#pausedConnections.set(this.#pausedSource()),
  });
  readonly #keyRefreshFailures = new Counter({
    name: 'telemetry_key_source_refresh_failures_total',
    help: 'Background reloads of a key source (registry, issuers) that failed; the previous keys stay in use',
    registers: [this.registry],
  });

  constructor(options: { processMetrics: boolean }) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'telemetry_build_info',
      help: 'Always 1: the version of the node and of Node.js it runs on, as labels',
      labelNames: ['version', 'node_version'],
      registers: [this.registry],
    }).set({ version: packageVersion(), node_version: process.versions.node }, 1);
  }

  /** Where the paused-connections gauge reads its value when scraped (the embedded broker's connections). */
  observePausedConnections(source: () => number): void {
    this.#pausedSource = source;
  }

  /** A message was acknowledged (answered, or PUBACKed) `seconds` after it was received. */
  acknowledged(transport: IngestContext['transport'], seconds: number): void {
    this.#ackSeconds.observe({ transport }, seconds);
  }

  /** The embedded broker refused a CONNECT with `code`, answering CONNACK return code `connack`. */
  connectionRefused(code: ErrorCode, connack: number): void {
    this.#connectionsRefused.inc({ code, connack: String(connack) });
  }

  /** A background reload of a key source failed. */
  keySourceRefreshFailed(): void {
    this.#keyRefreshFailures.inc();
  }

  /** Where the in-flight gauge reads its value when scraped. */
  observeInflight(source: () => number): void {
    this.#inflightSource = source;
  }

  accepted(_message: VerifiedMessage, context: IngestContext): void {
    const pending = this.#acceptedSinceCollect;
    pending.set(context.transport, (pending.get(context.transport) ?? 0) + 1);
  }

  rejected(code: ErrorCode, context: IngestContext): void {
    this.#rejected.inc({ transport: context.transport, code });
  }

  batchWritten(readings: number, seconds: number): void {
    this.#readings.inc(readings);
    this.#batchSize.observe(readings);
    this.#writeSeconds.observe({ outcome: 'ok' }, seconds);
  }

  batchFailed(_readings: number, seconds: number): void {
    this.#writeSeconds.observe({ outcome: 'failed' }, seconds);
  }
}
