import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../../src/index.js';

/** Where a bridge setting comes from: its environment variable and its `telemetry bridge` flag. */
interface Source {
  readonly env: string;
  readonly flag: string;
  readonly description: string;
}

const integer = (source: Source, def: number, minimum: number, maximum = Number.MAX_SAFE_INTEGER) =>
  Type.Integer({ ...source, default: def, minimum, maximum });
const text = (source: Source, def: string) => Type.String({ ...source, default: def });
const choice = <const T extends string>(source: Source, values: readonly [T, ...T[]], def: T) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { ...source, default: def },
  );

/** The built-in mappings `TELEMETRY_BRIDGE_MAPPINGS` may name. */
const BUILT_IN_MAPPINGS = ['tasmota', 'shelly', 'zigbee2mqtt'] as const;
export type BuiltInMapping = (typeof BUILT_IN_MAPPINGS)[number];

/**
 * Every setting of `telemetry bridge`, with its environment variable, flag,
 * default and bounds (docs/BRIDGE.md lists them; a test keeps the two equal).
 */
const BridgeSettingsSchema = Type.Object({
  nodeUrl: text(
    {
      env: 'TELEMETRY_BRIDGE_NODE_URL',
      flag: 'node-url',
      description: 'The ingest node (or its load balancer) readings go to',
    },
    'http://127.0.0.1:8080',
  ),
  nodeMqttUrl: text(
    {
      env: 'TELEMETRY_BRIDGE_NODE_MQTT_URL',
      flag: 'node-mqtt-url',
      description:
        "The node's embedded broker (mqtt:// or mqtts://): when set, readings go there, each device connected as itself, instead of to the node URL",
    },
    '',
  ),
  nodeMqttConnections: integer(
    {
      env: 'TELEMETRY_BRIDGE_NODE_MQTT_CONNECTIONS',
      flag: 'node-mqtt-connections',
      description: 'Most device connections to the node open at once',
    },
    32,
    1,
    1_000,
  ),
  nodeMqttIdleSeconds: integer(
    {
      env: 'TELEMETRY_BRIDGE_NODE_MQTT_IDLE_SECONDS',
      flag: 'node-mqtt-idle-seconds',
      description: 'A device connection to the node that sent nothing for this long is closed',
    },
    60,
    1,
    86_400,
  ),
  nodeMqttTokenTtlSeconds: integer(
    {
      env: 'TELEMETRY_BRIDGE_NODE_MQTT_TOKEN_TTL_SECONDS',
      flag: 'node-mqtt-token-ttl-seconds',
      description:
        "Lifetime of each device's connection token (at most the node's TELEMETRY_MAX_TOKEN_LIFETIME_SECONDS); renewed at 80 % of it",
    },
    3_600,
    2,
    86_400,
  ),
  nodeMqttAudience: text(
    {
      env: 'TELEMETRY_BRIDGE_NODE_MQTT_AUDIENCE',
      flag: 'node-mqtt-audience',
      description: "The aud of the connection tokens: the node's TELEMETRY_TOKEN_AUDIENCE",
    },
    'telemetry-ingest',
  ),
  mqttUrl: text(
    {
      env: 'TELEMETRY_BRIDGE_MQTT_URL',
      flag: 'mqtt-url',
      description: 'The local broker the devices publish to; empty turns MQTT intake off',
    },
    'mqtt://127.0.0.1:1883',
  ),
  mqttClientId: text(
    {
      env: 'TELEMETRY_BRIDGE_MQTT_CLIENT_ID',
      flag: 'mqtt-client-id',
      description: "Client id of the bridge's persistent session on the local broker",
    },
    'telemetry-bridge',
  ),
  mqttUsername: text(
    { env: 'TELEMETRY_BRIDGE_MQTT_USERNAME', flag: 'mqtt-username', description: 'User name on the local broker' },
    '',
  ),
  mqttPassword: text(
    { env: 'TELEMETRY_BRIDGE_MQTT_PASSWORD', flag: 'mqtt-password', description: 'Password on the local broker' },
    '',
  ),
  mappings: text(
    {
      env: 'TELEMETRY_BRIDGE_MAPPINGS',
      flag: 'mappings',
      description: 'Built-in MQTT mappings to subscribe with, comma-separated (tasmota, shelly, zigbee2mqtt), or none',
    },
    'tasmota,shelly,zigbee2mqtt',
  ),
  rules: text(
    {
      env: 'TELEMETRY_BRIDGE_RULES',
      flag: 'rules',
      description: 'A JSON file of generic rules (topic pattern, device, values, timestamp)',
    },
    '',
  ),
  devicePrefix: text(
    {
      env: 'TELEMETRY_BRIDGE_DEVICE_PREFIX',
      flag: 'device-prefix',
      description: 'Put before every device id the bridge forwards (e.g. home-), so bridged devices stand apart',
    },
    '',
  ),
  httpHost: text(
    {
      env: 'TELEMETRY_BRIDGE_HTTP_HOST',
      flag: 'http-host',
      description: 'Address of the local HTTP endpoint, /metrics and /healthz',
    },
    '127.0.0.1',
  ),
  httpPort: integer(
    {
      env: 'TELEMETRY_BRIDGE_HTTP_PORT',
      flag: 'http-port',
      description: 'Port of the local HTTP endpoint (0 picks a free one)',
    },
    8090,
    0,
    65_535,
  ),
  stateDir: text(
    {
      env: 'TELEMETRY_BRIDGE_STATE_DIR',
      flag: 'state-dir',
      description: "Folder of the durable state: the backlog and each device's seq",
    },
    './bridge-data',
  ),
  keysDir: text(
    {
      env: 'TELEMETRY_BRIDGE_KEYS_DIR',
      flag: 'keys-dir',
      description: 'Folder of the device key files (<device>.key.json); empty means <state dir>/keys',
    },
    '',
  ),
  newKeys: choice(
    {
      env: 'TELEMETRY_BRIDGE_NEW_KEYS',
      flag: 'new-keys',
      description: 'create: a device without a key file gets a new key; off: its readings are skipped',
    },
    ['create', 'off'],
    'create',
  ),
  keyAlg: choice(
    { env: 'TELEMETRY_BRIDGE_KEY_ALG', flag: 'key-alg', description: 'Algorithm of the keys the bridge creates' },
    ['EdDSA', 'ES256'],
    'EdDSA',
  ),
  registry: text(
    {
      env: 'TELEMETRY_BRIDGE_REGISTRY',
      flag: 'registry',
      description: 'A JWKS registry file the public half of each new key is added to; empty adds none',
    },
    '',
  ),
  newKeyGraceSeconds: integer(
    {
      env: 'TELEMETRY_BRIDGE_NEW_KEY_GRACE_SECONDS',
      flag: 'new-key-grace-seconds',
      description: 'How long ERR_UNKNOWN_KEY for a new key means "not loaded yet" (resend) rather than refused',
    },
    120,
    0,
    86_400,
  ),
  backlogBytes: integer(
    {
      env: 'TELEMETRY_BRIDGE_BACKLOG_BYTES',
      flag: 'backlog-bytes',
      description: 'Most bytes of readings kept unacknowledged; the oldest are dropped beyond',
    },
    64 * 1_048_576,
    1_024,
  ),
  batchMessages: integer(
    {
      env: 'TELEMETRY_BRIDGE_BATCH_MESSAGES',
      flag: 'batch-messages',
      description: 'Most messages in one POST /v1/messages/batch',
    },
    100,
    1,
    1_000,
  ),
  maxReadingsPerMessage: integer(
    {
      env: 'TELEMETRY_BRIDGE_MAX_READINGS_PER_MESSAGE',
      flag: 'max-readings-per-message',
      description: "Most readings in one signed message (the node's TELEMETRY_MAX_READINGS_PER_MESSAGE or less)",
    },
    100,
    1,
    100_000,
  ),
  maxMessageBytes: integer(
    {
      env: 'TELEMETRY_BRIDGE_MAX_MESSAGE_BYTES',
      flag: 'max-message-bytes',
      description: "Largest signed message (the node's TELEMETRY_MAX_MESSAGE_BYTES or less)",
    },
    65_536,
    1_024,
  ),
  retryBaseMs: integer(
    {
      env: 'TELEMETRY_BRIDGE_RETRY_BASE_MS',
      flag: 'retry-base-ms',
      description: "First retry delay's upper bound, ms",
    },
    200,
    1,
  ),
  retryMaxMs: integer(
    { env: 'TELEMETRY_BRIDGE_RETRY_MAX_MS', flag: 'retry-max-ms', description: 'Longest retry delay, ms' },
    30_000,
    1,
  ),
  requestTimeoutSeconds: integer(
    {
      env: 'TELEMETRY_BRIDGE_REQUEST_TIMEOUT_SECONDS',
      flag: 'request-timeout-seconds',
      description: "How long to wait for the node's answer (an HTTP response, a CONNACK or a PUBACK) before resending",
    },
    30,
    1,
    3_600,
  ),
  logLevel: choice(
    { env: 'TELEMETRY_BRIDGE_LOG_LEVEL', flag: 'log-level', description: 'Log level' },
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    'info',
  ),
});

/** The bridge's validated, frozen settings. */
export type BridgeSettings = Readonly<Static<typeof BridgeSettingsSchema>>;
type SettingSchema = TSchema & Source & { default: unknown };

/** Every bridge setting in schema order, for the help text and the docs. */
export function listBridgeSettings(): ReadonlyArray<SettingSchema> {
  return Object.values(BridgeSettingsSchema.properties) as unknown as SettingSchema[];
}

/** The flags `telemetry bridge` takes, for parseArgs. */
export function bridgeFlags(): Record<string, { type: 'string' }> {
  return Object.fromEntries(listBridgeSettings().map((s) => [s.flag, { type: 'string' as const }]));
}

function describeValue(schema: SettingSchema): string {
  if (schema.anyOf !== undefined)
    return `one of ${(schema.anyOf as Array<{ const: string }>).map((s) => s.const).join(', ')}`;
  if (schema.type === 'integer') return `an integer from ${schema.minimum} to ${schema.maximum}`;
  return 'a string';
}

/** The built-in mappings a `TELEMETRY_BRIDGE_MAPPINGS` value names; undefined when one is unknown. */
export function parseMappingList(value: string): BuiltInMapping[] | undefined {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '' && name !== 'none');
  const known = names.filter((name): name is BuiltInMapping => (BUILT_IN_MAPPINGS as readonly string[]).includes(name));
  return known.length === names.length ? known : undefined;
}

/**
 * Builds the bridge's settings from environment variables and flags (flags
 * win), applying defaults, and fails with one ConfigError naming every bad
 * setting, including unknown TELEMETRY_BRIDGE_* variables (usually typos).
 */
export function parseBridgeSettings(
  env: Readonly<Record<string, string | undefined>>,
  flags: Readonly<Record<string, string | undefined>> = {},
): BridgeSettings {
  const problems: string[] = [];
  const result: Record<string, unknown> = {};
  const known = new Set<string>();
  for (const [key, property] of Object.entries(BridgeSettingsSchema.properties)) {
    const schema = property as unknown as SettingSchema;
    known.add(schema.env);
    const fromFlag = flags[schema.flag];
    const raw = fromFlag ?? env[schema.env];
    const name = fromFlag !== undefined ? `--${schema.flag}` : schema.env;
    const value =
      raw === undefined ? schema.default : schema.type === 'integer' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (!Value.Check(schema, value)) {
      problems.push(`${name} must be ${describeValue(schema)}, got ${JSON.stringify(raw)}`);
      continue;
    }
    result[key] = value;
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('TELEMETRY_BRIDGE_') && !known.has(name)) problems.push(`${name} is not a known setting`);
  }
  // Checked on what parsed, so one error lists every problem, of values and of meanings alike.
  problems.push(...crossCheck(result as Partial<BridgeSettings>));
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(result as BridgeSettings);
}

/** Rules that involve a setting's meaning or more than one setting; a setting that did not parse is left out. */
function crossCheck(settings: Partial<BridgeSettings>): string[] {
  const problems: string[] = [];
  const { nodeUrl, nodeMqttUrl, nodeMqttAudience, mqttUrl, mappings, stateDir, retryBaseMs, retryMaxMs } = settings;
  const { mqttPassword, mqttUsername } = settings;
  if (nodeUrl !== undefined && !/^https?:\/\/[^/]/.test(nodeUrl)) {
    problems.push('TELEMETRY_BRIDGE_NODE_URL must be an http:// or https:// URL');
  }
  if (nodeMqttUrl !== undefined && nodeMqttUrl !== '' && !/^mqtts?:\/\/[^/]/.test(nodeMqttUrl)) {
    problems.push('TELEMETRY_BRIDGE_NODE_MQTT_URL must be an mqtt:// or mqtts:// URL, or empty');
  }
  if (nodeMqttAudience === '') problems.push('TELEMETRY_BRIDGE_NODE_MQTT_AUDIENCE must not be empty');
  if (mqttUrl !== undefined && mqttUrl !== '' && !/^(mqtts?|wss?|tcp|ssl):\/\/[^/]/.test(mqttUrl)) {
    problems.push('TELEMETRY_BRIDGE_MQTT_URL must be an mqtt:// or mqtts:// URL, or empty');
  }
  if (mappings !== undefined && parseMappingList(mappings) === undefined) {
    problems.push(`TELEMETRY_BRIDGE_MAPPINGS must name only ${BUILT_IN_MAPPINGS.join(', ')} (or none)`);
  }
  if (stateDir === '') problems.push('TELEMETRY_BRIDGE_STATE_DIR must not be empty');
  if (retryBaseMs !== undefined && retryMaxMs !== undefined && retryBaseMs > retryMaxMs) {
    problems.push('TELEMETRY_BRIDGE_RETRY_BASE_MS must not exceed TELEMETRY_BRIDGE_RETRY_MAX_MS');
  }
  if (mqttPassword !== undefined && mqttPassword !== '' && mqttUsername === '') {
    problems.push('TELEMETRY_BRIDGE_MQTT_PASSWORD needs TELEMETRY_BRIDGE_MQTT_USERNAME');
  }
  return problems;
}
