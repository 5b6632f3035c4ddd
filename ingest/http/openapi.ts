import { fastifySwagger } from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { ErrorResponse } from '../../src/query/query-schemas.js';

/** Where a node serves its OpenAPI document. */
const OPENAPI_PATH = '/openapi.json';

const ERROR_DEFAULT = {
  ...ErrorResponse,
  description: 'An error with a stable code (docs/PROTOCOL.md §11), and Retry-After when retrying can help.',
};

/**
 * Documentation the ingest and operations routes carry into the OpenAPI
 * document, keyed by method and URL. It only describes; validation stays with
 * the routes' own schemas in http-routes.ts.
 */
const ROUTE_DOCS: Readonly<Record<string, FastifySchema>> = {
  'POST /v1/messages': {
    tags: ['ingest'],
    summary: 'Send one signed message',
    description: 'The body is one compact JWS (docs/PROTOCOL.md §3). A 200 answer means every reading in it is stored.',
    consumes: ['application/jose'],
    body: Type.String({ description: 'A signed message: a JWS in compact serialization.' }),
  },
  'POST /v1/messages/batch': {
    tags: ['ingest'],
    summary: 'Send several signed messages',
    description: 'Each message is verified and stored on its own; the answer lists an outcome per message.',
  },
  'GET /healthz': { tags: ['operations'], summary: 'Whether the process is alive' },
  'GET /readyz': { tags: ['operations'], summary: 'Whether the node takes traffic: store reachable, not draining' },
  'GET /metrics': { tags: ['operations'], summary: 'Prometheus metrics', produces: ['text/plain'] },
};

/**
 * Registers @fastify/swagger, which builds the OpenAPI document from the
 * route schemas (TypeBox, the same ones that validate), and serves it at
 * {@link OPENAPI_PATH}. Must run before any route is added: the plugin sees
 * only routes registered after it.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'telemetry-ingest',
        version: '1',
        description:
          'Signed telemetry in (docs/PROTOCOL.md), stored readings out (docs/QUERY.md). ' +
          'The query API needs an operator token.',
      },
      tags: [
        { name: 'ingest', description: 'Signed messages from devices' },
        { name: 'query', description: 'Stored telemetry, for operators' },
        { name: 'operations', description: 'Health, readiness and metrics' },
      ],
      components: {
        securitySchemes: {
          operatorToken: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'An operator token from `telemetry keys operator-token`.',
          },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const docs = methods.map((method) => ROUTE_DOCS[`${method} ${url}`]).find((d) => d !== undefined);
      if (docs === undefined) return { schema, url };
      const response = { ...(schema?.response ?? {}), default: ERROR_DEFAULT };
      return { schema: { ...docs, ...schema, response }, url };
    },
  });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}
