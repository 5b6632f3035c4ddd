import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../errors.js';
import { type Config, type ConfigKey, ConfigSchema, type SettingSchema } from './config-schema.js';
import { documentLocationProblem } from './document-location.js';

/** Every setting with its key, in schema order: for help texts and docs. */
export function listSettings(): ReadonlyArray<{ key: ConfigKey; schema: SettingSchema }> {
  return Object.entries(ConfigSchema.properties).map(([key, schema]) => ({
    key: key as ConfigKey,
    schema: schema as unknown as SettingSchema,
  }));
}

function convert(raw: string, schema: SettingSchema): unknown {
  if (schema.type === 'integer') return /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
  return raw;
}

function describeValue(schema: SettingSchema): string {
  if (schema.anyOf !== undefined)
    return `one of ${(schema.anyOf as Array<{ const: string }>).map((s) => s.const).join(', ')}`;
  if (schema.type === 'integer') return `an integer from ${schema.minimum} to ${schema.maximum}`;
  return 'a string';
}

/**
 * Builds the node's configuration from environment variables and flags (flags
 * win), applying defaults, and fails with one ConfigError naming every bad
 * setting, including unknown TELEMETRY_* variables (usually typos).
 */
export function parseConfig(
  env: Readonly<Record<string, string | undefined>>,
  flags: Readonly<Record<string, string | undefined>> = {},
): Config {
  const problems: string[] = [];
  const result: Record<string, unknown> = {};
  const known = new Set<string>();
  for (const { key, schema } of listSettings()) {
    known.add(schema.env);
    const fromFlag = schema.flag === undefined ? undefined : flags[schema.flag];
    const raw = fromFlag ?? env[schema.env];
    const name = fromFlag !== undefined ? `--${schema.flag}` : schema.env;
    const value = raw === undefined ? schema.default : convert(raw, schema);
    if (!Value.Check(schema, value)) {
      problems.push(`${name} must be ${describeValue(schema)}, got ${JSON.stringify(raw)}`);
      continue;
    }
    result[key] = value;
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('TELEMETRY_') && !known.has(name)) problems.push(`${name} is not a known setting`);
  }
  if (problems.length === 0) problems.push(...crossCheck(result as Config));
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(result as Config);
}

/** Rules that involve more than one setting. */
function crossCheck(config: Config): string[] {
  const problems: string[] = [];
  for (const key of ['keyRegistry', 'credentialIssuers', 'operatorIssuers'] as const) {
    const problem = config[key] === '' ? undefined : documentLocationProblem(config[key]);
    if (problem !== undefined) problems.push(`${ConfigSchema.properties[key].env} ${problem}`);
  }
  if (config.keyRegistry === '' && config.credentialIssuers === '') {
    problems.push(
      'TELEMETRY_KEY_REGISTRY and TELEMETRY_CREDENTIAL_ISSUERS are both empty: the node could trust no device',
    );
  }
  if (config.mqtt === 'external' && !/^(mqtts?|wss?|tcp|ssl):\/\//.test(config.mqttBrokerUrl)) {
    problems.push('TELEMETRY_MQTT_BROKER_URL must be an mqtt:// or mqtts:// URL when TELEMETRY_MQTT=external');
  }
  if (config.mqttTlsPort >= 0 && (config.mqttTlsCert === '' || config.mqttTlsKey === '')) {
    problems.push(
      'TELEMETRY_MQTT_TLS_CERT and TELEMETRY_MQTT_TLS_KEY are required when TELEMETRY_MQTT_TLS_PORT is set',
    );
  }
  if (config.store === 'influxdb' && config.influxUrl === '') {
    problems.push('TELEMETRY_INFLUX_URL is required when TELEMETRY_STORE=influxdb');
  }
  if (config.workers > 1 && config.store === 'embedded') {
    problems.push(
      'TELEMETRY_WORKERS > 1 needs TELEMETRY_STORE=influxdb: the embedded store is one file for one process',
    );
  }
  if (config.batchMaxReadings > config.maxInflightReadings) {
    problems.push('TELEMETRY_BATCH_MAX_READINGS must not exceed TELEMETRY_MAX_INFLIGHT_READINGS');
  }
  return problems;
}
