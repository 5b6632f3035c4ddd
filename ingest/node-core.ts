import type { Config } from '../src/config/config-schema.js';
import { BatchWriter, batchPolicyOf } from '../src/pipeline/batch-writer.js';
import { IngestPipeline } from '../src/pipeline/ingest-pipeline.js';
import type { NodeLog } from '../src/pipeline/node-log.js';
import { RateLimiter } from '../src/pipeline/rate-limiter.js';
import { StoreHealth } from '../src/pipeline/store-health.js';
import type { ProtocolLimits } from '../src/protocol/limits.js';
import { limitsOf } from '../src/protocol/limits.js';
import type { DeviceKeySource } from '../src/protocol/trusted-key.js';
import type { TelemetryStore } from '../src/store/telemetry-store.js';
import { IngestMetrics } from './ingest-metrics.js';
import { REJECTION_SUMMARY_INTERVAL_MS, RejectionSummary } from './rejection-summary.js';
import type { TransportDeps } from './transport-deps.js';

/** What the node's core is built from; tests pass their own clock, store and keys. */
export interface NodeCoreDeps {
  readonly config: Config;
  readonly store: TelemetryStore;
  readonly keys: DeviceKeySource;
  readonly now?: () => number;
  /** Collect process-wide metrics (CPU, memory, event loop); off in tests that build many nodes. */
  readonly processMetrics?: boolean;
  /** Where store, backpressure and rejection-summary lines go (a pino logger), or false for none. */
  readonly logger?: NodeLog | false;
  /** How often rejections are summed up in the log; {@link REJECTION_SUMMARY_INTERVAL_MS} unless a test says. */
  readonly rejectionSummaryMs?: number;
}

/** The transport-independent part of a node: every transport is handed a view of it. */
export interface NodeCore extends TransportDeps {
  readonly pipeline: IngestPipeline;
  readonly writer: BatchWriter;
  readonly metrics: IngestMetrics;
  readonly limits: ProtocolLimits;
  /** Whether the store answers, as writes and readiness pings find it; logs each change. */
  readonly storeHealth: StoreHealth;
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
  const log = deps.logger === false ? undefined : deps.logger;
  const metrics = new IngestMetrics({ processMetrics: deps.processMetrics ?? false });
  const storeHealth = new StoreHealth({ log, store: config.store, now });
  const writer = new BatchWriter(deps.store, batchPolicyOf(config), {
    batchWritten(readings, seconds) {
      metrics.batchWritten(readings, seconds);
      storeHealth.reachable();
    },
    batchFailed(readings, seconds, error) {
      metrics.batchFailed(readings, seconds);
      // A store that refused the readings themselves answered: only one that did not is unreachable.
      if (error.code === 'ERR_STORE_UNAVAILABLE') storeHealth.failed(error);
      else storeHealth.reachable();
    },
    backpressure(on, inflight, limit) {
      if (on) log?.warn({ inflight, limit }, 'backpressure on: refusing messages with ERR_OVERLOADED');
      else log?.info({ inflight, limit }, 'backpressure off');
    },
  });
  metrics.observeInflight(() => writer.inflight);
  const summary =
    log === undefined ? undefined : new RejectionSummary({ metrics, log, intervalMs: deps.rejectionSummaryMs });
  summary?.start();
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
    storeHealth,
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
      // The last interval's rejections, then no more summaries.
      summary?.stop();
      await summary?.report();
    },
  };
}
