import { CONFIG_DEFAULTS } from '../config/config-defaults.js';
import type { Config } from '../config/config-schema.js';

/** The bounds a node enforces on every message. All are settings (see {@link limitsOf}). */
export interface ProtocolLimits {
  /** Bytes of the compact JWS as received. */
  readonly maxMessageBytes: number;
  readonly maxReadingsPerMessage: number;
  readonly maxValuesPerReading: number;
  /** Readings older than now minus this many milliseconds are rejected. */
  readonly maxReadingAgeMs: number;
  /** Readings later than now plus this many milliseconds are rejected. */
  readonly maxFutureSkewMs: number;
}

/** The protocol limits a configuration sets. */
export function limitsOf(
  config: Pick<
    Config,
    'maxMessageBytes' | 'maxReadingsPerMessage' | 'maxValuesPerReading' | 'maxReadingAgeSeconds' | 'clockSkewSeconds'
  >,
): ProtocolLimits {
  return {
    maxMessageBytes: config.maxMessageBytes,
    maxReadingsPerMessage: config.maxReadingsPerMessage,
    maxValuesPerReading: config.maxValuesPerReading,
    maxReadingAgeMs: config.maxReadingAgeSeconds * 1000,
    maxFutureSkewMs: config.clockSkewSeconds * 1000,
  };
}

/** The limits of a node with default settings (64 KiB, 1,000 readings of 64 values, 7 days back, 60 s ahead). */
export const DEFAULT_LIMITS: ProtocolLimits = Object.freeze(limitsOf(CONFIG_DEFAULTS));
