import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError } from 'fastify';
import { type ErrorCode, TelemetryError } from '../../src/errors.js';
import { errorReply } from './error-reply.js';

/** The code a route group answers malformed input with: the ingest routes' or the query API's. */
export type MalformedCode = 'ERR_MESSAGE_MALFORMED' | 'ERR_QUERY_INVALID';

/**
 * Every fastify error that is the client's fault (its `statusCode` is 4xx), and
 * the code of ours it stands for; `malformed` is the route group's own code for
 * malformed input. A test checks this table against every code fastify
 * exports, so a new one cannot reach a client unmapped.
 */
export const FASTIFY_CLIENT_FAULTS: Readonly<Record<string, ErrorCode | 'malformed'>> = {
  FST_ERR_NOT_FOUND: 'ERR_NOT_FOUND',
  FST_ERR_VALIDATION: 'malformed',
  FST_ERR_CTP_BODY_TOO_LARGE: 'ERR_MESSAGE_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed',
  FST_ERR_BAD_URL: 'malformed',
  FST_ERR_INVALID_URL: 'malformed',
  FST_ERR_MAX_PARAM_LENGTH: 'malformed',
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: 'malformed',
  FST_ERR_ROUTE_MISSING_CONTENT: 'malformed',
  // Raised when a parser is added after start: a bug of ours, but fastify gives it status 400.
  FST_ERR_CTP_INSTANCE_ALREADY_STARTED: 'ERR_INTERNAL',
};

/** What a failure on an HTTP route is answered with, and whether it was unexpected (the node's own fault). */
export interface HttpFailure {
  readonly failure: TelemetryError;
  readonly unexpected: boolean;
}

/**
 * Translates anything a route or a library under it raised into one of our
 * errors, by its code, never its message: ours as they are; fastify's by
 * {@link FASTIFY_CLIENT_FAULTS}; any other error that carries a 4xx
 * `statusCode` (a body parser's, say) as malformed input, since a client's
 * fault must never be answered as a retryable 5xx; the rest as ERR_INTERNAL.
 */
export function asHttpFailure(error: unknown, malformed: MalformedCode): HttpFailure {
  if (error instanceof TelemetryError) return { failure: error, unexpected: false };
  const { code, statusCode } = (error ?? {}) as Partial<FastifyError>;
  const mapped = code === undefined ? undefined : FASTIFY_CLIENT_FAULTS[code];
  const message = error instanceof Error ? error.message : 'the request is malformed';
  if (mapped === 'ERR_INTERNAL') return internal(error);
  if (mapped !== undefined) {
    return {
      failure: new TelemetryError(mapped === 'malformed' ? malformed : mapped, message, { cause: error }),
      unexpected: false,
    };
  }
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    const ours: ErrorCode =
      statusCode === 413 ? 'ERR_MESSAGE_TOO_LARGE' : statusCode === 415 ? 'ERR_UNSUPPORTED_MEDIA_TYPE' : malformed;
    return { failure: new TelemetryError(ours, message, { cause: error }), unexpected: false };
  }
  return internal(error);
}

function internal(error: unknown): HttpFailure {
  return { failure: new TelemetryError('ERR_INTERNAL', 'unexpected failure', { cause: error }), unexpected: true };
}

/**
 * What the node answers on a connection whose request never completed (a
 * `clientError` of node:http): a request head or body that did not arrive within
 * its timeout gets 408 ERR_REQUEST_TIMEOUT, anything unparsable 400
 * ERR_MESSAGE_MALFORMED, in the project's error shape; then the connection is
 * closed. fastify's own handler here left timed-out connections open.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code !== 'ECONNRESET' && !socket.destroyed && socket.writable) {
    const failure =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new TelemetryError('ERR_REQUEST_TIMEOUT', 'the request did not arrive in time', { retryAfter: 1 })
        : new TelemetryError('ERR_MESSAGE_MALFORMED', 'the request is not valid HTTP/1.1');
    const { status, headers, body } = errorReply(failure);
    const text = JSON.stringify(body);
    const head = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(text)}`,
      'Connection: close',
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    socket.write(`${head.join('\r\n')}\r\n\r\n${text}`);
  }
  socket.destroy();
}
