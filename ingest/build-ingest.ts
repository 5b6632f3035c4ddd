import { type FastifyBaseLogger, type FastifyInstance, fastify, LogController } from 'fastify';
import type { Config } from '../src/config/config-schema.js';
import { TelemetryError } from '../src/errors.js';
import type { JwksRegistry } from '../src/identity/jwks-registry.js';
import { BatchWriter, batchPolicyOf } from '../src/pipeline/batch-writer.js';
import { IngestPipeline } from '../src/pipeline/ingest-pipeline.js';
import { RateLimiter } from '../src/pipeline/rate-limiter.js';
import { limitsOf, type ProtocolLimits } from '../src/protocol/limits.js';
import type { DeviceKeySource } from '../src/protocol/trusted-key.js';
import type { TelemetryStore } from '../src/store/telemetry-store.js';
import { registerDashboardRoutes } from './dashboard/dashboard-routes.js';
import { registerIngestRoutes } from './http/ingest-routes.js';
import { registerOpenApi } from './http/openapi.js';
import { IngestMetrics } from './ingest-metrics.js';
import { registerQueryRoutes } from './query/query-routes.js';

/** Everything a node is built from; tests pass their own clock, store and keys. */
export interface IngestDeps {
  readonly config: Config;
  readonly store: TelemetryStore;
  readonly keys: DeviceKeySource;
  /** Operator issuer keys for the query API; without them it answers 401 to everything. */
  readonly operatorIssuers?: () => JwksRegistry;
  readonly now?: () => number;
  /** A pino logger, or false for none. */
  readonly logger?: FastifyBaseLogger | false;
  /** Collect process-wide metrics (CPU, memory, event loop); off in tests that build many nodes. */
  readonly processMetrics?: boolean;
}

/** A node built but not listening: inject requests into `app`, or listen on it. */
export interface IngestNode {
  readonly app: FastifyInstance;
  readonly pipeline: IngestPipeline;
  readonly writer: BatchWriter;
  readonly metrics: IngestMetrics;
  readonly limits: ProtocolLimits;
  readonly now: () => number;
  /** Whether the node is draining (readiness false, new messages refused). */
  readonly draining: () => boolean;
  /** Turns readiness false and refuses new messages; in-flight ones still finish. */
  beginDrain(): void;
  /** Drains, waits for in-flight writes up to `timeoutMs`, and closes the HTTP server. The store is the caller's. */
  close(timeoutMs?: number): Promise<void>;
}

/** Most signed messages one batch request may carry. */
export const MAX_BATCH_MESSAGES = 1_000;

/**
 * Builds an ingest node's pipeline and HTTP routes without listening
 * (fastify's build/listen split), so tests drive it through `app.inject()`.
 */
export async function buildIngest(deps: IngestDeps): Promise<IngestNode> {
  const { config, store } = deps;
  const now = deps.now ?? Date.now;
  const metrics = new IngestMetrics({ processMetrics: deps.processMetrics ?? false });
  const writer = new BatchWriter(store, batchPolicyOf(config), metrics);
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

  const app = fastify({
    loggerInstance: deps.logger === false || deps.logger === undefined ? undefined : deps.logger,
    // A log line per request would cost more than verifying it; outcomes go to metrics instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Devices on slow links keep connections open; one connection carries many requests.
    keepAliveTimeout: 72_000,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  // Before any route: the OpenAPI document sees only routes added after it.
  await registerOpenApi(app);
  await registerIngestRoutes(app, {
    pipeline,
    metrics,
    maxMessageBytes: config.maxMessageBytes,
    maxBatchMessages: MAX_BATCH_MESSAGES,
    ready: async () => {
      if (draining) throw new TelemetryError('ERR_SHUTTING_DOWN', 'draining');
      await store.ping();
    },
  });
  await registerQueryRoutes(app, {
    store,
    now,
    auth: { issuers: deps.operatorIssuers, now, clockSkewSeconds: config.clockSkewSeconds },
    maxReadingAgeMs: limits.maxReadingAgeMs,
    clockSkewMs: limits.maxFutureSkewMs,
  });
  await registerDashboardRoutes(app, {
    metrics,
    now,
    auth: { issuers: deps.operatorIssuers, now, clockSkewSeconds: config.clockSkewSeconds },
  });

  return {
    app,
    pipeline,
    writer,
    metrics,
    limits,
    now,
    draining: () => draining,
    beginDrain() {
      draining = true;
    },
    async close(timeoutMs = config.shutdownTimeoutSeconds * 1000) {
      draining = true;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([writer.drain(), deadline]);
      clearTimeout(timer);
      await app.close();
    },
  };
}
