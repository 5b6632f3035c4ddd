import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TelemetryError } from '../../src/errors.js';
import { asHttpFailure } from '../http/client-faults.js';
import { errorReply } from '../http/error-reply.js';
import type { IngestMetrics } from '../ingest-metrics.js';
import { authenticateOperator, insufficientScopeChallenge, type OperatorAuthOptions } from '../query/query-auth.js';
import { QUERY_PREFIX } from '../query/query-routes.js';
import { type DashboardAsset, type DashboardAssets, loadDashboardAssets, vendorPath } from './dashboard-assets.js';
import { type NodeIdentity, readNodeStats } from './node-stats.js';
import { NodeStatsResponse } from './stats-schema.js';

/** The files, read once per process however many nodes it builds (tests build many). */
let sharedAssets: DashboardAssets | undefined;

function defaultAssets(): DashboardAssets {
  sharedAssets ??= loadDashboardAssets();
  return sharedAssets;
}

/** Where the dashboard page lives. */
const DASHBOARD_PATH = '/dashboard/';

export interface DashboardRoutesOptions {
  readonly metrics: IngestMetrics;
  readonly auth: OperatorAuthOptions;
  readonly now: () => number;
  /** Which node answers stats; a random id drawn now by default. */
  readonly node?: NodeIdentity;
  /** The files to serve; read from disk when absent. */
  readonly assets?: DashboardAssets;
}

/**
 * The page never needs anything from another origin, runs no inline script
 * but its import map, and may not be framed (clickjacking of the token field).
 */
function contentSecurityPolicy(assets: DashboardAssets): string {
  return [
    "default-src 'none'",
    `script-src 'self' ${assets.importMapHash}`,
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function sendAsset(request: FastifyRequest, reply: FastifyReply, file: DashboardAsset, csp: string): FastifyReply {
  reply
    .header('content-type', file.contentType)
    .header('cache-control', file.cacheControl)
    .header('etag', file.etag)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('content-security-policy', csp);
  if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
  return reply.send(file.body);
}

function statsError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { failure, unexpected } = asHttpFailure(error, 'ERR_QUERY_INVALID');
  if (unexpected) request.log.error({ err: error }, 'unexpected stats failure');
  const { status, headers, body } = errorReply(failure);
  return reply.code(status).headers(headers).header('cache-control', 'no-store').send(body);
}

/**
 * The operator dashboard (static files under {@link DASHBOARD_PATH}, uPlot
 * served from node_modules under a versioned URL) and the JSON it polls for
 * this node's counters, `GET /v1/query/stats`. The page holds no secret: it
 * asks the operator for a token and sends it with every query, like any client.
 */
export async function registerDashboardRoutes(app: FastifyInstance, options: DashboardRoutesOptions): Promise<void> {
  const assets = options.assets ?? defaultAssets();
  const csp = contentSecurityPolicy(assets);
  const node = options.node ?? { id: randomUUID(), startedAt: options.now() };
  const hidden = { schema: { hide: true } };

  // The page's URLs are relative, so it must be loaded from the folder URL.
  app.get('/dashboard', hidden, async (_request, reply) => reply.redirect(DASHBOARD_PATH, 308));
  for (const [name, file] of assets.page) {
    const url = name === 'index.html' ? DASHBOARD_PATH : `${DASHBOARD_PATH}${name}`;
    app.get(url, hidden, async (request, reply) => sendAsset(request, reply, file, csp));
  }
  for (const [name, file] of assets.vendor) {
    app.get(`${DASHBOARD_PATH}${vendorPath(assets.uplotVersion)}${name}`, hidden, async (request, reply) =>
      sendAsset(request, reply, file, csp),
    );
  }

  await app.register(
    async (scoped) => {
      scoped.setErrorHandler(statsError);
      scoped.get(
        '/stats',
        {
          schema: {
            tags: ['query'],
            security: [{ operatorToken: [] }],
            summary: "This node's own message and reading counters",
            description:
              'The counters /metrics exposes, as JSON, for the dashboard: totals since this node started, ' +
              'of this node only (not the fleet). Needs a token with the `read` scope (all devices).',
            response: { 200: NodeStatsResponse },
          },
        },
        async (request, reply) => {
          const result = await authenticateOperator(request.headers.authorization, options.auth);
          if (!result.ok) {
            reply.header('www-authenticate', result.challenge);
            throw result.error;
          }
          // The counters cover every device, so a token limited to some devices may not read them.
          if (!result.scope.readsAll) {
            reply.header('www-authenticate', insufficientScopeChallenge());
            throw new TelemetryError('ERR_FORBIDDEN', 'node stats cover every device: they need the read scope');
          }
          const stats = await readNodeStats(options.metrics.registry, node, options.now());
          return reply.header('cache-control', 'no-store').header('vary', 'Authorization').send(stats);
        },
      );
    },
    { prefix: QUERY_PREFIX },
  );
}
