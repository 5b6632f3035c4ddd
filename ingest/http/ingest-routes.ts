import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { type ErrorCode, TelemetryError } from '../../src/errors.js';
import type { IngestPipeline } from '../../src/pipeline/ingest-pipeline.js';
import type { IngestMetrics } from '../ingest-metrics.js';
import { errorReply } from './error-reply.js';

export interface IngestRoutesOptions {
  readonly pipeline: IngestPipeline;
  readonly metrics: IngestMetrics;
  readonly maxMessageBytes: number;
  readonly maxBatchMessages: number;
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

/** Fastify error codes that stand for one of ours. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_MESSAGE_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'ERR_MESSAGE_MALFORMED',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'ERR_MESSAGE_MALFORMED',
  FST_ERR_VALIDATION: 'ERR_MESSAGE_MALFORMED',
};

function sendError(reply: FastifyReply, error: TelemetryError): FastifyReply {
  const { status, headers, body } = errorReply(error);
  return reply.code(status).headers(headers).send(body);
}

/** POST /v1/messages: one compact JWS (the bytes received), accepted once stored; a refusal is thrown. */
async function ingestMessage(pipeline: IngestPipeline, body: unknown): Promise<Static<typeof Accepted>> {
  if (!Buffer.isBuffer(body)) {
    throw new TelemetryError('ERR_UNSUPPORTED_MEDIA_TYPE', 'send the compact JWS as application/jose');
  }
  const outcome = await pipeline.handle(body, { transport: 'http' });
  if (!outcome.ok) throw outcome.error;
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
    const { error } = outcome;
    return { status: 'rejected' as const, code: error.code, message: error.message, retryable: error.canRetry() };
  });
  return { results };
}

/**
 * The HTTP transport: one signed message per request, or a batch of them, each
 * handed to the same pipeline as MQTT messages. A 2xx answer means stored.
 */
export async function registerIngestRoutes(app: FastifyInstance, options: IngestRoutesOptions): Promise<void> {
  const { pipeline } = options;
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  // A compact JWS is ASCII text under its own media type (RFC 7515 §9.2.1). It is taken as the bytes received:
  // verifyMessage reads them as text itself and checks the signature over a view of them, with no copy.
  app.addContentTypeParser(['application/jose', 'text/plain'], { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof TelemetryError) return sendError(reply, error);
    const mapped = error.code === undefined ? undefined : FASTIFY_CODES[error.code];
    if (mapped !== undefined) return sendError(reply, new TelemetryError(mapped, error.message, { cause: error }));
    request.log.error({ err: error }, 'unexpected failure');
    return sendError(reply, new TelemetryError('ERR_INTERNAL', 'unexpected failure', { cause: error }));
  });

  typed.post(
    '/v1/messages',
    { bodyLimit: options.maxMessageBytes + 1024, schema: { response: { 200: Accepted } } },
    async (request) => ingestMessage(pipeline, request.body),
  );

  typed.post(
    '/v1/messages/batch',
    {
      bodyLimit: options.maxBatchMessages * (options.maxMessageBytes + 16) + 1024,
      schema: {
        body: BatchBody,
        response: { 200: Type.Object({ results: Type.Array(Type.Union([Accepted, Rejected])) }) },
      },
    },
    async (request) => ingestBatch(pipeline, request.body.messages, options.maxBatchMessages),
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
