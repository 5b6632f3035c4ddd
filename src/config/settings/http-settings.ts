import { integer, text } from './setting-builders.js';

/** Where the HTTP API listens, and what it spends on requests before they are authenticated. Part of ConfigSchema, in its order. */
export const httpSettings = {
  httpHost: text(
    { env: 'TELEMETRY_HTTP_HOST', flag: 'http-host', description: 'Address the HTTP API listens on' },
    '0.0.0.0',
  ),
  httpPort: integer(
    { env: 'TELEMETRY_HTTP_PORT', flag: 'http-port', description: 'HTTP port (0 picks a free one)' },
    8080,
    0,
    65_535,
  ),
  httpHeadersTimeoutSeconds: integer(
    {
      env: 'TELEMETRY_HTTP_HEADERS_TIMEOUT_SECONDS',
      description:
        'A connection must send a request line and its headers within this long, or it is closed (idle and slowloris connections included)',
    },
    15,
    1,
    600,
  ),
  httpRequestTimeoutSeconds: integer(
    {
      env: 'TELEMETRY_HTTP_REQUEST_TIMEOUT_SECONDS',
      description: 'A whole request, body included, must arrive within this long (64 KiB at 10 kbit/s takes 52 s)',
    },
    60,
    1,
    3600,
  ),
  httpKeepAliveTimeoutSeconds: integer(
    {
      env: 'TELEMETRY_HTTP_KEEPALIVE_TIMEOUT_SECONDS',
      description:
        'An idle connection between two requests is closed after this long; keep it above the idle timeout of a load balancer in front',
    },
    72,
    1,
    3600,
  ),
  maxBatchBytes: integer(
    {
      env: 'TELEMETRY_MAX_BATCH_BYTES',
      description: 'Largest body of POST /v1/messages/batch, in bytes (413 beyond it)',
    },
    4 * 1_048_576,
    1024,
    256 * 1_048_576,
  ),
  maxUnverifiedBytes: integer(
    {
      env: 'TELEMETRY_MAX_UNVERIFIED_BYTES',
      description:
        'HTTP request bodies being received and checked at once, node-wide, in bytes; past it a request gets 503 before its body is read (batches may take three quarters)',
    },
    64 * 1_048_576,
    65_536,
    4096 * 1_048_576,
  ),
};
