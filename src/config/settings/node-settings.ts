import { choice, integer } from './setting-builders.js';

/** The node process: workers, shutdown and logging. Part of ConfigSchema, in its order. */
export const nodeSettings = {
  workers: integer(
    { env: 'TELEMETRY_WORKERS', flag: 'workers', description: 'Worker processes sharing the ports' },
    1,
    1,
    256,
  ),
  shutdownTimeoutSeconds: integer(
    { env: 'TELEMETRY_SHUTDOWN_TIMEOUT_SECONDS', description: 'Longest a graceful shutdown waits for in-flight work' },
    10,
    0,
    600,
  ),
  logLevel: choice(
    { env: 'TELEMETRY_LOG_LEVEL', flag: 'log-level', description: 'Log level' },
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    'info',
  ),
};
