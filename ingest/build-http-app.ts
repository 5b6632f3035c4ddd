import { type FastifyBaseLogger, type FastifyInstance, fastify, LogController } from 'fastify';
import type { Config } from '../src/config/config-schema.js';
import { TelemetryError } from '../src/errors.js';
import type { JwksRegistry } from '../src/identity/jwks-registry.js';
import type { TelemetryStore } from '../src/store/telemetry-store.js';
import { registerDashboardRoutes } from './dashboard/dashboard-routes.js';
import { registerIngestRoutes } from './http/ingest-routes.js';
import { registerOpenApi } from './http/openapi.js';
import type { NodeCore } from './node-core.js';
import { registerQueryRoutes } from './query/query-routes.js';

/** Most signed messages one batch request may carry. */
export const MAX_BATCH_MESSAGES = 1_000;

export interface HttpAppDeps {
  readonly config: Config;
  readonly store: TelemetryStore;
  /** Operator issuer keys for the query API; without them it answers 401 to everything. */
  readonly operatorIssuers?: (() => JwksRegistry) | undefined;
  /** A pino logger, or false for none. */
  readonly logger?: FastifyBaseLogger | false | undefined;
}

/**
 * The node's HTTP face, built but not listening (fastify's build/listen split):
 * ingest routes into the pipeline, the query API, the dashboard, health,
 * readiness and metrics.
 */
export async function buildHttpApp(core: NodeCore, deps: HttpAppDeps): Promise<FastifyInstance> {
  const { config, store } = deps;
  const { now, metrics, limits } = core;
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
    pipeline: core.pipeline,
    metrics,
    maxMessageBytes: config.maxMessageBytes,
    maxBatchMessages: MAX_BATCH_MESSAGES,
    ready: async () => {
      if (core.draining()) throw new TelemetryError('ERR_SHUTTING_DOWN', 'draining');
      await store.ping();
    },
  });
  const auth = { issuers: deps.operatorIssuers, now, clockSkewSeconds: config.clockSkewSeconds };
  await registerQueryRoutes(app, {
    store,
    now,
    auth,
    maxReadingAgeMs: limits.maxReadingAgeMs,
    clockSkewMs: limits.maxFutureSkewMs,
  });
  await registerDashboardRoutes(app, { metrics, now, auth });
  return app;
}
