import { type FastifyBaseLogger, type FastifyInstance, fastify, LogController } from 'fastify';
import type { Config } from '../src/config/config-schema.js';
import { TelemetryError } from '../src/errors.js';
import type { JwksRegistry } from '../src/identity/jwks-registry.js';
import { OperatorTokenCache } from '../src/identity/operator-token-cache.js';
import type { TelemetryStore } from '../src/store/telemetry-store.js';
import { registerDashboardRoutes } from './dashboard/dashboard-routes.js';
import { BodyBudget } from './http/body-budget.js';
import { answerClientError, asHttpFailure } from './http/client-faults.js';
import { errorReply } from './http/error-reply.js';
import { logHttpRefusal } from './http/http-rejection-log.js';
import { registerIngestRoutes } from './http/ingest-routes.js';
import { registerOpenApi } from './http/openapi.js';
import type { NodeCore } from './node-core.js';
import { registerQueryRoutes } from './query/query-routes.js';

/** What a draining node still answers as usual: a load balancer reads readiness and metrics to the end. */
const DURING_DRAIN: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

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
    // Devices on slow links keep connections open; one connection carries many requests. A connection that
    // sends no complete request head in time is closed (checked every second), and so is one whose whole
    // request takes too long: idle and slowloris connections cost little, for little time.
    keepAliveTimeout: config.httpKeepAliveTimeoutSeconds * 1000,
    requestTimeout: config.httpRequestTimeoutSeconds * 1000,
    http: { headersTimeout: config.httpHeadersTimeoutSeconds * 1000, connectionsCheckingInterval: 1000 },
    clientErrorHandler: answerClientError,
    forceCloseConnections: 'idle',
    // Requests during a drain get our 503 (below), not fastify's own shape.
    return503OnClosing: false,
  });
  // From SIGTERM on, every request but health, readiness and metrics is answered 503 ERR_SHUTTING_DOWN, and its
  // connection closed, so the client sends it to another node; in-flight requests finish as they were.
  app.addHook('onRequest', async (request, reply) => {
    if (!core.draining() || DURING_DRAIN.has(request.url)) return;
    const { status, headers, body } = errorReply(
      new TelemetryError('ERR_SHUTTING_DOWN', 'the node is shutting down; send it to another node', { retryAfter: 1 }),
    );
    return reply
      .code(status)
      .headers({ ...headers, connection: 'close' })
      .send(body);
  });
  // Every failure of a route without its own handler, and every unknown route, in the project's error shape.
  app.setErrorHandler((error, request, reply) => {
    const { failure, unexpected } = asHttpFailure(error, 'ERR_MESSAGE_MALFORMED');
    if (unexpected) request.log.error({ err: error }, 'unexpected failure');
    else logHttpRefusal(request.log, failure, request);
    const { status, headers, body } = errorReply(failure);
    return reply.code(status).headers(headers).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const failure = new TelemetryError(
      'ERR_NOT_FOUND',
      `the node serves no ${request.method} ${request.url.split('?', 1)[0]}`,
    );
    logHttpRefusal(request.log, failure, request);
    const { status, headers, body } = errorReply(failure);
    return reply.code(status).headers(headers).send(body);
  });
  // Before any route: the OpenAPI document sees only routes added after it.
  await registerOpenApi(app);
  await registerIngestRoutes(app, {
    pipeline: core.pipeline,
    metrics,
    maxMessageBytes: config.maxMessageBytes,
    maxBatchMessages: MAX_BATCH_MESSAGES,
    maxBatchBytes: config.maxBatchBytes,
    budget: new BodyBudget(config.maxUnverifiedBytes),
    ready: async () => {
      if (core.draining()) throw new TelemetryError('ERR_SHUTTING_DOWN', 'draining');
      await store.ping().then(
        () => core.storeHealth.reachable(),
        (error: unknown) => {
          core.storeHealth.failed(error);
          throw error;
        },
      );
    },
  });
  const auth = {
    issuers: deps.operatorIssuers,
    now,
    clockSkewSeconds: config.clockSkewSeconds,
    tokens: new OperatorTokenCache(),
  };
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
