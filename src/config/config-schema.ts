import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { httpSettings } from './settings/http-settings.js';
import { keySettings } from './settings/key-settings.js';
import { limitSettings } from './settings/limit-settings.js';
import { mqttSettings } from './settings/mqtt-settings.js';
import { nodeSettings } from './settings/node-settings.js';
import { pipelineSettings } from './settings/pipeline-settings.js';
import type { Source } from './settings/setting-builders.js';
import { storeSettings } from './settings/store-settings.js';

/**
 * Every setting of an ingest node, with its environment variable, flag,
 * default and bounds. One schema: parseConfig validates against it and the
 * Config type is derived from it, so the two cannot drift.
 */
export const ConfigSchema = Type.Object({
  ...httpSettings,
  ...mqttSettings,
  ...keySettings,
  ...limitSettings,
  ...storeSettings,
  ...pipelineSettings,
  ...nodeSettings,
});

/** A node's validated, frozen configuration. */
export type Config = Readonly<Static<typeof ConfigSchema>>;
export type ConfigKey = keyof Config;

/** A setting's schema with the metadata every property carries. */
export type SettingSchema = TSchema & Source & { default: unknown };
