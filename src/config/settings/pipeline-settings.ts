import { integer } from './setting-builders.js';

/** How readings are batched on their way to the store, and when the node pushes back. Part of ConfigSchema, in its order. */
export const pipelineSettings = {
  batchMaxReadings: integer(
    { env: 'TELEMETRY_BATCH_MAX_READINGS', description: 'Readings per store write at most' },
    5_000,
    1,
    1_000_000,
  ),
  batchMaxWaitMs: integer(
    {
      env: 'TELEMETRY_BATCH_MAX_WAIT_MS',
      description:
        'Longest a reading waits for its batch to fill; 0: no wait, readings are written as soon as the store is free and gather while it is busy',
    },
    0,
    0,
    10_000,
  ),
  maxInflightReadings: integer(
    {
      env: 'TELEMETRY_MAX_INFLIGHT_READINGS',
      description: 'Readings accepted but not yet stored, at most; beyond it the node pushes back',
    },
    100_000,
    1,
  ),
  rateLimitPerDevice: integer(
    { env: 'TELEMETRY_RATE_LIMIT_PER_DEVICE', description: 'Messages per second per device per node; 0 for no limit' },
    0,
    0,
  ),
};
