import { integer } from './setting-builders.js';

/** How large and how old a message may be. Part of ConfigSchema, in its order. */
export const limitSettings = {
  maxMessageBytes: integer(
    { env: 'TELEMETRY_MAX_MESSAGE_BYTES', description: 'Largest message accepted, in bytes' },
    65_536,
    256,
    16 * 1_048_576,
  ),
  maxReadingsPerMessage: integer(
    { env: 'TELEMETRY_MAX_READINGS_PER_MESSAGE', description: 'Most readings in one message' },
    1_000,
    1,
    100_000,
  ),
  maxValuesPerReading: integer(
    { env: 'TELEMETRY_MAX_VALUES_PER_READING', description: 'Most values in one reading' },
    64,
    1,
    1_000,
  ),
  maxReadingAgeSeconds: integer(
    {
      env: 'TELEMETRY_MAX_READING_AGE_SECONDS',
      description: 'Oldest reading accepted (how long devices may buffer offline)',
    },
    604_800,
    60,
  ),
};
