import { type Static, type TSchema, Type } from '@sinclair/typebox';

/** Where a setting comes from: its environment variable, and its `serve` flag. */
interface Source {
  readonly env: string;
  readonly flag?: string;
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

/**
 * Every setting of an ingest node, with its environment variable, flag,
 * default and bounds. One schema: parseConfig validates against it and the
 * Config type is derived from it, so the two cannot drift.
 */
export const ConfigSchema = Type.Object({
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
  mqtt: choice(
    {
      env: 'TELEMETRY_MQTT',
      flag: 'mqtt',
      description: 'embedded: devices connect to this node; external: subscribe on a broker; off',
    },
    ['embedded', 'external', 'off'],
    'embedded',
  ),
  mqttHost: text(
    { env: 'TELEMETRY_MQTT_HOST', flag: 'mqtt-host', description: 'Address the embedded broker listens on' },
    '0.0.0.0',
  ),
  mqttPort: integer(
    { env: 'TELEMETRY_MQTT_PORT', flag: 'mqtt-port', description: 'Embedded broker TCP port (0 picks a free one)' },
    1883,
    0,
    65_535,
  ),
  mqttTlsPort: integer(
    {
      env: 'TELEMETRY_MQTT_TLS_PORT',
      flag: 'mqtt-tls-port',
      description: 'Embedded broker TLS port; -1 turns TLS off',
    },
    -1,
    -1,
    65_535,
  ),
  mqttTlsCert: text(
    { env: 'TELEMETRY_MQTT_TLS_CERT', description: 'PEM certificate chain file for MQTT over TLS' },
    '',
  ),
  mqttTlsKey: text({ env: 'TELEMETRY_MQTT_TLS_KEY', description: 'PEM private key file for MQTT over TLS' }, ''),
  mqttWsPort: integer(
    {
      env: 'TELEMETRY_MQTT_WS_PORT',
      flag: 'mqtt-ws-port',
      description: 'Embedded broker WebSocket port; -1 turns it off',
    },
    -1,
    -1,
    65_535,
  ),
  mqttMaxPendingPerConnection: integer(
    {
      env: 'TELEMETRY_MQTT_MAX_PENDING_PER_CONNECTION',
      description:
        'Messages of one embedded-broker connection in the pipeline at once, at most; at the limit the node stops reading from it',
    },
    32,
    1,
    65_535,
  ),
  mqttBrokerUrl: text(
    {
      env: 'TELEMETRY_MQTT_BROKER_URL',
      flag: 'mqtt-broker-url',
      description: 'External broker URL (mqtt:// or mqtts://), with mqtt=external',
    },
    '',
  ),
  mqttShareGroup: text(
    { env: 'TELEMETRY_MQTT_SHARE_GROUP', description: 'Shared subscription group on the external broker' },
    'telemetry-ingest',
  ),
  // Stable per node: the broker keeps the node's unacknowledged messages in the session under this id and
  // redelivers them only to it. Unique across nodes: a second connection with the same id takes the session over.
  mqttClientId: text(
    {
      env: 'TELEMETRY_MQTT_CLIENT_ID',
      description:
        'Client id on the external broker (empty: telemetry-ingest-<hostname>); stable per node, unique across nodes',
    },
    '',
  ),
  // mqtt.js reads a connection's next message only once the previous one is acknowledged, i.e. stored: one
  // connection carries one message per batch wait plus store write (about 43/s at the defaults, measured with
  // scripts/measure-external-broker.ts), so a node opens several, each its own session in the share group.
  mqttConnections: integer(
    {
      env: 'TELEMETRY_MQTT_CONNECTIONS',
      description:
        'Connections to the external broker, each its own persistent session in the share group (client ids <id>, <id>-2, ...): how many messages the node works on at once',
    },
    16,
    1,
    64,
  ),
  mqttSessionExpirySeconds: integer(
    {
      env: 'TELEMETRY_MQTT_SESSION_EXPIRY_SECONDS',
      description: "How long the external broker keeps a node's session and unacknowledged messages while it is away",
    },
    3600,
    0,
    4_294_967_295,
  ),
  tokenAudience: text(
    { env: 'TELEMETRY_TOKEN_AUDIENCE', description: 'Required aud of MQTT connection tokens' },
    'telemetry-ingest',
  ),
  maxTokenLifetimeSeconds: integer(
    { env: 'TELEMETRY_MAX_TOKEN_LIFETIME_SECONDS', description: 'Longest connection token lifetime accepted' },
    86_400,
    60,
  ),
  keyRegistry: text(
    {
      env: 'TELEMETRY_KEY_REGISTRY',
      flag: 'key-registry',
      description: 'Device key registry: JWKS file or https URL; empty for none',
    },
    'data/registry.jwks.json',
  ),
  credentialIssuers: text(
    {
      env: 'TELEMETRY_CREDENTIAL_ISSUERS',
      flag: 'credential-issuers',
      description: 'Fleet issuer public keys (JWKS file or https URL) for device credentials; empty for none',
    },
    '',
  ),
  operatorIssuers: text(
    {
      env: 'TELEMETRY_OPERATOR_ISSUERS',
      flag: 'operator-issuers',
      description: 'Operator issuer public keys (JWKS file or https URL) for query tokens; empty for none',
    },
    '',
  ),
  keysRefreshSeconds: integer(
    { env: 'TELEMETRY_KEYS_REFRESH_SECONDS', description: 'How often key sets are reloaded; 0 never' },
    30,
    0,
  ),
  clockSkewSeconds: integer(
    {
      env: 'TELEMETRY_CLOCK_SKEW_SECONDS',
      description: 'Clock difference tolerated on tokens, credentials and future readings',
    },
    60,
    0,
    3600,
  ),
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
  store: choice(
    {
      env: 'TELEMETRY_STORE',
      flag: 'store',
      description: 'embedded (DuckDB file in the data dir), influxdb or victoriametrics (both at TELEMETRY_INFLUX_URL)',
    },
    ['embedded', 'influxdb', 'victoriametrics'],
    'embedded',
  ),
  dataDir: text(
    { env: 'TELEMETRY_DATA_DIR', flag: 'data-dir', description: 'Folder for the embedded store and default key files' },
    'data',
  ),
  influxUrl: text(
    {
      env: 'TELEMETRY_INFLUX_URL',
      description: 'Base URL of the InfluxDB or VictoriaMetrics server (TELEMETRY_STORE=influxdb or victoriametrics)',
    },
    '',
  ),
  influxApi: choice(
    { env: 'TELEMETRY_INFLUX_API', description: 'Write API: v2 (/api/v2/write) or v1 (/write, InfluxDB 1.x)' },
    ['v2', 'v1'],
    'v2',
  ),
  influxToken: text(
    {
      env: 'TELEMETRY_INFLUX_TOKEN',
      description: 'API token, sent as Authorization: Token (InfluxDB 2.x/3.x; user:password on 1.8+)',
    },
    '',
  ),
  influxUsername: text(
    {
      env: 'TELEMETRY_INFLUX_USERNAME',
      description:
        'User for HTTP basic auth (InfluxDB 1.x with auth enabled, or VictoriaMetrics -httpAuth.*); not with a token',
    },
    '',
  ),
  influxPassword: text(
    { env: 'TELEMETRY_INFLUX_PASSWORD', description: 'Password of TELEMETRY_INFLUX_USERNAME; never logged' },
    '',
  ),
  influxOrg: text({ env: 'TELEMETRY_INFLUX_ORG', description: 'InfluxDB organisation (v2)' }, ''),
  influxBucket: text(
    { env: 'TELEMETRY_INFLUX_BUCKET', description: 'InfluxDB bucket (v2) or database (v1)' },
    'telemetry',
  ),
  influxRetentionPolicy: text(
    {
      env: 'TELEMETRY_INFLUX_RETENTION_POLICY',
      description: "Retention policy to write to and query (InfluxDB, v1 API); empty: the database's default",
    },
    '',
  ),
  influxCompression: choice(
    {
      env: 'TELEMETRY_INFLUX_COMPRESSION',
      description:
        'Write bodies: none (store on the same network), or gzip (across a slow or metered link; ~1 µs CPU a reading)',
    },
    ['none', 'gzip'],
    'none',
  ),
  // Before TELEMETRY_STORE=victoriametrics existed, VictoriaMetrics was TELEMETRY_STORE=influxdb with this set to
  // victoriametrics; parseConfig still accepts that and turns it into TELEMETRY_STORE=victoriametrics.
  influxQuery: choice(
    {
      env: 'TELEMETRY_INFLUX_QUERY',
      description:
        'Query dialect, follows TELEMETRY_STORE; victoriametrics with TELEMETRY_STORE=influxdb is the old spelling of TELEMETRY_STORE=victoriametrics',
    },
    ['influxql', 'victoriametrics'],
    'influxql',
  ),
  storeTimeoutMs: integer(
    {
      env: 'TELEMETRY_STORE_TIMEOUT_MS',
      description:
        'Deadline of one request to InfluxDB or VictoriaMetrics, from sending to the last byte of the answer',
    },
    10_000,
    1,
    600_000,
  ),
  storeWriteRetries: integer(
    {
      env: 'TELEMETRY_STORE_WRITE_RETRIES',
      description:
        'Times a write that failed as ERR_STORE_UNAVAILABLE (429, 5xx, timeout, refused connection) is sent again; 0 for none',
    },
    2,
    0,
    10,
  ),
  storeRetryBudgetMs: integer(
    {
      env: 'TELEMETRY_STORE_RETRY_BUDGET_MS',
      description:
        'No write retry starts later than this long after the write began (a longer Retry-After goes to the device)',
    },
    3_000,
    0,
    60_000,
  ),
  batchMaxReadings: integer(
    { env: 'TELEMETRY_BATCH_MAX_READINGS', description: 'Readings per store write at most' },
    5_000,
    1,
    1_000_000,
  ),
  batchMaxWaitMs: integer(
    { env: 'TELEMETRY_BATCH_MAX_WAIT_MS', description: 'Longest a reading waits for its batch to fill' },
    20,
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
});

/** A node's validated, frozen configuration. */
export type Config = Readonly<Static<typeof ConfigSchema>>;
export type ConfigKey = keyof Config;

/** A setting's schema with the metadata every property carries. */
export type SettingSchema = TSchema & Source & { default: unknown };
