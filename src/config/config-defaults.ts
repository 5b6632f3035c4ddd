import { Value } from '@sinclair/typebox/value';
import { type Config, ConfigSchema } from './config-schema.js';

/**
 * Every setting at its default, taken from the schema: the one place defaults are written. Constants elsewhere
 * that mirror a setting (DEFAULT_LIMITS, DEFAULT_BATCH_POLICY, DEFAULT_RETRY_POLICY, ...) are derived from it.
 */
export const CONFIG_DEFAULTS: Config = Object.freeze(Value.Create(ConfigSchema));
