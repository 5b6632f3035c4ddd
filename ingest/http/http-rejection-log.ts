import type { FastifyBaseLogger } from 'fastify';
import type { TelemetryError } from '../../src/errors.js';

/** Refusals already logged with their device, which the error handler then answers without logging again. */
const logged = new WeakSet<TelemetryError>();

/**
 * Logs (debug) a message the pipeline refused: transport, code and device,
 * never the message. Returns the error, to be thrown or answered.
 */
export function logHttpRejection(
  log: FastifyBaseLogger,
  error: TelemetryError,
  device: string | undefined,
): TelemetryError {
  logged.add(error);
  log.debug({ transport: 'http', code: error.code, device }, 'http message rejected');
  return error;
}

/**
 * Logs (debug) a request answered with an error before any message reached the
 * pipeline (wrong media type, too large, malformed batch, unknown route), unless
 * {@link logHttpRejection} logged it already.
 */
export function logHttpRefusal(
  log: FastifyBaseLogger,
  failure: TelemetryError,
  request: { readonly method: string; readonly url: string },
): void {
  if (logged.has(failure)) return;
  log.debug(
    {
      transport: 'http',
      code: failure.code,
      status: failure.status,
      method: request.method,
      // The path without its query, which may hold an operator token.
      path: request.url.split('?', 1)[0],
    },
    'http request rejected',
  );
}
