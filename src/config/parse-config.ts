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

/** Settings that existed once, and why a node no longer takes them: said at start, so an old config is not a puzzle. */
const RETIRED_SETTINGS: Readonly<Record<string, string>> = {
  TELEMETRY_MQTT_SESSION_EXPIRY_SECONDS:
    'a node keeps no session on the external broker (its sessions end with the connection; devices resend what ' +
    'the node did not acknowledge end to end, docs/PROTOCOL.md §10.3); remove it',
};

/**
 * Variables the client commands read (`telemetry query`, `simulate run` and `simulate verify`): where a node is and
 * the operator token to ask it with. A shell that exported them for those commands can still start a node.
 */
const CLIENT_SETTINGS: ReadonlySet<string> = new Set(['TELEMETRY_URL', 'TELEMETRY_TOKEN', 'TELEMETRY_MQTT_URL']);

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
    // TELEMETRY_BRIDGE_* are `telemetry bridge`'s, which checks them itself; a node and a bridge may share an env file.
    if (!name.startsWith('TELEMETRY_') || name.startsWith('TELEMETRY_BRIDGE_') || known.has(name)) continue;
    if (CLIENT_SETTINGS.has(name)) continue;
    const retired = RETIRED_SETTINGS[name];
    problems.push(
      retired === undefined ? `${name} is not a known setting` : `${name} is no longer a setting: ${retired}`,
    );
  }
  let config = result as Config;
  if (problems.length === 0) {
    if (config.store === 'victoriametrics' && env.TELEMETRY_INFLUX_QUERY === 'influxql') {
      problems.push(
        'TELEMETRY_INFLUX_QUERY=influxql contradicts TELEMETRY_STORE=victoriametrics: VictoriaMetrics is queried through its own API',
      );
    }
    config = withStoreNamed(config);
    problems.push(...crossCheck(config));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/**
 * The old spelling of VictoriaMetrics, TELEMETRY_STORE=influxdb with TELEMETRY_INFLUX_QUERY=victoriametrics, as
 * the new one: the rest of the node looks at `store` alone, and both spellings give the same configuration.
 */
function withStoreNamed(config: Config): Config {
  if (config.store === 'victoriametrics' || (config.store === 'influxdb' && config.influxQuery === 'victoriametrics')) {
    return { ...config, store: 'victoriametrics', influxQuery: 'victoriametrics' };
  }
  return config;
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
  if (config.store !== 'embedded' && config.influxUrl === '') {
    problems.push(`TELEMETRY_INFLUX_URL is required when TELEMETRY_STORE=${config.store}`);
  }
  if (config.workers > 1 && config.store === 'embedded') {
    problems.push(
      'TELEMETRY_WORKERS > 1 needs TELEMETRY_STORE=influxdb or victoriametrics: the embedded store is one file for one process',
    );
  }
  if (config.influxToken !== '' && config.influxUsername !== '') {
    problems.push(
      'TELEMETRY_INFLUX_TOKEN and TELEMETRY_INFLUX_USERNAME exclude each other: set a token, or a username and password',
    );
  }
  if (config.influxPassword !== '' && config.influxUsername === '') {
    problems.push('TELEMETRY_INFLUX_PASSWORD needs TELEMETRY_INFLUX_USERNAME');
  }
  if (config.influxRetentionPolicy !== '' && (config.store !== 'influxdb' || config.influxApi !== 'v1')) {
    problems.push(
      'TELEMETRY_INFLUX_RETENTION_POLICY needs TELEMETRY_STORE=influxdb and TELEMETRY_INFLUX_API=v1 (on the v2 API the bucket stands for database and retention policy)',
    );
  }
  if (config.batchMaxReadings > config.maxInflightReadings) {
    problems.push('TELEMETRY_BATCH_MAX_READINGS must not exceed TELEMETRY_MAX_INFLIGHT_READINGS');
  }
  if (config.httpHeadersTimeoutSeconds > config.httpRequestTimeoutSeconds) {
    problems.push('TELEMETRY_HTTP_HEADERS_TIMEOUT_SECONDS must not exceed TELEMETRY_HTTP_REQUEST_TIMEOUT_SECONDS');
  }
  if (config.maxBatchBytes > (config.maxUnverifiedBytes * 3) / 4) {
    problems.push(
      'TELEMETRY_MAX_BATCH_BYTES must not exceed three quarters of TELEMETRY_MAX_UNVERIFIED_BYTES: no batch could ever be taken',
    );
  }
  if (config.maxMessageBytes + 1024 > config.maxUnverifiedBytes / 4) {
    problems.push(
      'TELEMETRY_MAX_MESSAGE_BYTES must stay under a quarter of TELEMETRY_MAX_UNVERIFIED_BYTES, the room kept for single messages',
    );
  }
  return problems;
}
