import type { Config } from '../src/config/config-schema.js';
import { BatchWriter, batchPolicyOf } from '../src/pipeline/batch-writer.js';
import { IngestPipeline } from '../src/pipeline/ingest-pipeline.js';
import { RateLimiter } from '../src/pipeline/rate-limiter.js';
import type { ProtocolLimits } from '../src/protocol/limits.js';
import { limitsOf } from '../src/protocol/limits.js';
import type { DeviceKeySource } from '../src/protocol/trusted-key.js';
import type { TelemetryStore } from '../src/store/telemetry-store.js';
import { IngestMetrics } from './ingest-metrics.js';
import type { TransportDeps } from './transport-deps.js';

/** What the node's core is built from; tests pass their own clock, store and keys. */
export interface NodeCoreDeps {
  readonly config: Config;
  readonly store: TelemetryStore;
  readonly keys: DeviceKeySource;
  readonly now?: () => number;
  /** Collect process-wide metrics (CPU, memory, event loop); off in tests that build many nodes. */
  readonly processMetrics?: boolean;
}

/** The transport-independent part of a node: every transport is handed a view of it. */
export interface NodeCore extends TransportDeps {
  readonly pipeline: IngestPipeline;
  readonly writer: BatchWriter;
  readonly metrics: IngestMetrics;
  readonly limits: ProtocolLimits;
  /** Turns readiness false and refuses new messages; in-flight ones still finish. */
  beginDrain(): void;
  /** Drains, then waits for in-flight writes, at most `timeoutMs`. */
  drain(timeoutMs: number): Promise<void>;
}

/**
 * Builds the pipeline every message goes through, whatever the transport:
 * metrics, the batch writer in front of the store, the rate limiter, and the
 * draining flag. Nothing here knows about HTTP or MQTT.
 */
export function buildNodeCore(deps: NodeCoreDeps): NodeCore {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  const metrics = new IngestMetrics({ processMetrics: deps.processMetrics ?? false });
  const writer = new BatchWriter(deps.store, batchPolicyOf(config), metrics);
  metrics.observeInflight(() => writer.inflight);
  let draining = false;
  const limits = limitsOf(config);
  const pipeline = new IngestPipeline({
    keys: deps.keys,
    limits,
    now,
    writer,
    events: metrics,
    draining: () => draining,
    ...(config.rateLimitPerDevice > 0 ? { rateLimiter: new RateLimiter(config.rateLimitPerDevice) } : {}),
  });
  return {
    pipeline,
    writer,
    metrics,
    limits,
    now,
    draining: () => draining,
    beginDrain() {
      draining = true;
    },
    async drain(timeoutMs) {
      draining = true;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([writer.drain(), deadline]);
      clearTimeout(timer);
    },
  };
}
