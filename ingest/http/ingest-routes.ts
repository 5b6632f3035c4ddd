import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TelemetryError } from '../../src/errors.js';
import type { IngestPipeline } from '../../src/pipeline/ingest-pipeline.js';
import type { IngestMetrics } from '../ingest-metrics.js';
import type { BodyBudget } from './body-budget.js';
import { logHttpRejection } from './http-rejection-log.js';

export interface IngestRoutesOptions {
  readonly pipeline: IngestPipeline;
  readonly metrics: IngestMetrics;
  readonly maxMessageBytes: number;
  readonly maxBatchMessages: number;
  /** Largest batch request body, in bytes. */
  readonly maxBatchBytes: number;
  /** The node-wide budget for bodies not yet authenticated. */
  readonly budget: BodyBudget;
  /** Resolves when the node can take traffic; rejects with the reason otherwise. */
  readonly ready: () => Promise<void>;
}

const Accepted = Type.Object({
  status: Type.Literal('accepted'),
  device: Type.String(),
  seq: Type.Integer(),
  readings: Type.Integer(),
});
const Rejected = Type.Object({
  status: Type.Literal('rejected'),
  code: Type.String(),
  message: Type.String(),
  retryable: Type.Boolean(),
});
const BatchBody = Type.Object(
  { messages: Type.Array(Type.String(), { minItems: 1 }) },
  { additionalProperties: false },
);

/**
 * POST /v1/messages: one compact JWS (the bytes received), accepted once stored; a refusal is logged (debug)
 * and thrown, marked as logged for the error handler.
 */
async function ingestMessage(
  pipeline: IngestPipeline,
  body: unknown,
  log: FastifyBaseLogger,
): Promise<Static<typeof Accepted>> {
  if (!Buffer.isBuffer(body)) {
    throw new TelemetryError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send the compact JWS as application/jose');
  }
  const outcome = await pipeline.handle(body, { transport: 'http' });
  if (!outcome.ok) throw logHttpRejection(log, outcome.error, outcome.device);
  const { message } = outcome;
  return {
    status: 'accepted' as const,
    device: message.device,
    seq: message.seq,
    readings: message.readings.length,
  };
}

/** POST /v1/messages/batch: every message through the pipeline, each answered accepted or rejected on its own. */
async function ingestBatch(
  pipeline: IngestPipeline,
  messages: readonly string[],
  maxBatchMessages: number,
  log: FastifyBaseLogger,
): Promise<{ results: Array<Static<typeof Accepted> | Static<typeof Rejected>> }> {
  if (messages.length > maxBatchMessages) {
    throw new TelemetryError('ERR_MESSAGE_TOO_LARGE', `a batch holds at most ${maxBatchMessages} messages`);
  }
  const outcomes = await Promise.all(messages.map((m) => pipeline.handle(m, { transport: 'http' })));
  const results = outcomes.map((outcome) => {
    if (outcome.ok) {
      const m = outcome.message;
      return { status: 'accepted' as const, device: m.device, seq: m.seq, readings: m.readings.length };
    }
    const error = logHttpRejection(log, outcome.error, outcome.device);
    return { status: 'rejected' as const, code: error.code, message: error.message, retryable: error.canRetry() };
  });
  return { results };
}

/** Media types a single message may come as (RFC 7515 §9.2.1; text/plain for simple clients). */
const JWS_MEDIA_TYPES: ReadonlySet<string> = new Set(['application/jose', 'text/plain']);
const JSON_MEDIA_TYPES: ReadonlySet<string> = new Set(['application/json']);

/**
 * An onRequest hook that refuses a body of another media type with 415 before
 * any of it is read or parsed (parameters such as `charset` are ignored).
 */
function requireContentType(types: ReadonlySet<string>, hint: string) {
  return async (request: FastifyRequest): Promise<void> => {
    const type = (request.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
    if (!types.has(type)) {
      throw new TelemetryError('ERR_UNSUPPORTED_MEDIA_TYPE', `${hint}, not ${JSON.stringify(type || 'no type')}`);
    }
  };
}

/** The messages of a batch body, which must be exactly `{"messages": ["<compact JWS>", ...]}` (docs/PROTOCOL.md §9.2). */
function batchMessages(body: unknown): readonly string[] {
  const messages = (body as { messages?: unknown } | null)?.messages;
  const valid =
    typeof body === 'object' &&
    body !== null &&
    !Array.isArray(body) &&
    Object.keys(body).length === 1 &&
    Array.isArray(messages) &&
    messages.length > 0 &&
    messages.every((message) => typeof message === 'string');
  if (!valid) {
    throw new TelemetryError(
      'ERR_MESSAGE_MALFORMED',
      'a batch is {"messages": ["<compact JWS>", ...]} with at least one message and no other member',
    );
  }
  return messages as readonly string[];
}

/**
 * The HTTP transport: one signed message per request, or a batch of them, each
 * handed to the same pipeline as MQTT messages. A 2xx answer means stored.
 */
export async function registerIngestRoutes(app: FastifyInstance, options: IngestRoutesOptions): Promise<void> {
  const { pipeline } = options;
  // A message and its request line: a little more than the largest message.
  const messageLimit = options.maxMessageBytes + 1024;
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  // An answer of 200 acknowledges the message (or the batch): its latency from the request's arrival.
  const acknowledged = async (_request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (reply.statusCode === 200) options.metrics.acknowledged('http', reply.elapsedTime / 1000);
  };

  // A compact JWS is ASCII text under its own media type (RFC 7515 §9.2.1). It is taken as the bytes received:
  // verifyMessage reads them as text itself and checks the signature over a view of them, with no copy.
  app.addContentTypeParser(['application/jose', 'text/plain'], { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );

  typed.post(
    '/v1/messages',
    {
      bodyLimit: messageLimit,
      schema: { response: { 200: Accepted } },
      onRequest: [
        requireContentType(JWS_MEDIA_TYPES, 'send the compact JWS as application/jose'),
        options.budget.hook('message', messageLimit),
      ],
      onResponse: acknowledged,
    },
    async (request) => ingestMessage(pipeline, request.body, request.log),
  );

  typed.post(
    '/v1/messages/batch',
    {
      bodyLimit: options.maxBatchBytes,
      schema: {
        body: BatchBody,
        response: { 200: Type.Object({ results: Type.Array(Type.Union([Accepted, Rejected])) }) },
      },
      onRequest: [
        requireContentType(JSON_MEDIA_TYPES, 'send the batch as application/json'),
        options.budget.hook('batch', options.maxBatchBytes),
      ],
      onResponse: acknowledged,
      // BatchBody documents the body (OpenAPI); batchMessages checks it strictly. Fastify's validator would
      // coerce ("x" into ["x"]) and drop unknown members instead of refusing them.
      validatorCompiler: () => () => true,
    },
    async (request) => ingestBatch(pipeline, batchMessages(request.body), options.maxBatchMessages, request.log),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      await options.ready();
      return { status: 'ready' };
    } catch (error) {
      const reason = error instanceof TelemetryError ? error.code : 'ERR_STORE_UNAVAILABLE';
      return reply.code(503).send({ status: 'not ready', reason });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await options.metrics.registry.metrics();
    return reply.type(options.metrics.registry.contentType).send(body);
  });
}
