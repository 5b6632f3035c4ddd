import { integer, text } from './setting-builders.js';

/** Where the HTTP API listens. Part of ConfigSchema, in its order. */
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
};
