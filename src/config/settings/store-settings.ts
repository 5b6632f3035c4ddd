import { choice, integer, text } from './setting-builders.js';

/** Where readings are stored: the embedded store, or InfluxDB / VictoriaMetrics and how to reach them. Part of ConfigSchema, in its order. */
export const storeSettings = {
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
};
