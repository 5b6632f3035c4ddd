import { describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS } from '../../src/config/config-defaults.js';
import { listSettings, parseConfig } from '../../src/config/parse-config.js';
import { parseDuration } from '../../src/config/parse-duration.js';
import { ConfigError } from '../../src/errors.js';

function problemsOf(env: Record<string, string>, flags: Record<string, string> = {}): readonly string[] {
  try {
    parseConfig(env, flags);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('parseConfig', () => {
  it('gives a complete, frozen configuration with the defaults when nothing is set', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({
      httpPort: 8080,
      mqtt: 'embedded',
      mqttPort: 1883,
      store: 'embedded',
      dataDir: 'data',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads environment variables and lets flags win over them', () => {
    const config = parseConfig({ TELEMETRY_HTTP_PORT: '9000', TELEMETRY_STORE: 'embedded' }, { 'http-port': '9100' });
    expect(config.httpPort).toBe(9100);
  });

  it('names every bad setting in one error', () => {
    const problems = problemsOf({
      TELEMETRY_HTTP_PORT: '80000',
      TELEMETRY_MQTT: 'sometimes',
      TELEMETRY_WORKERS: 'two',
    });
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/TELEMETRY_HTTP_PORT must be an integer from 0 to 65535, got "80000"/);
    expect(problems.join('\n')).toMatch(/TELEMETRY_MQTT must be one of embedded, external, off/);
    expect(problems.join('\n')).toMatch(/TELEMETRY_WORKERS/);
  });

  it('names the flag when the bad value came from a flag', () => {
    expect(problemsOf({}, { 'http-port': 'x' })[0]).toMatch(/^--http-port must be/);
  });

  it('rejects unknown TELEMETRY_ variables, which are usually typos', () => {
    expect(problemsOf({ TELEMETRY_HTTP_PROT: '1' })).toEqual(['TELEMETRY_HTTP_PROT is not a known setting']);
  });

  it('leaves alone the variables the client commands read, so a shell set up for `telemetry query` can start a node', () => {
    const clientEnv = {
      TELEMETRY_URL: 'http://127.0.0.1:8080',
      TELEMETRY_TOKEN: 'ey…',
      TELEMETRY_MQTT_URL: 'mqtt://h',
    };
    expect(() => parseConfig(clientEnv)).not.toThrow();
  });

  it('checks settings that depend on each other', () => {
    expect(problemsOf({ TELEMETRY_STORE: 'influxdb' })).toEqual([
      'TELEMETRY_INFLUX_URL is required when TELEMETRY_STORE=influxdb',
    ]);
    expect(problemsOf({ TELEMETRY_MQTT: 'external' })[0]).toMatch(/TELEMETRY_MQTT_BROKER_URL/);
    expect(problemsOf({ TELEMETRY_KEY_REGISTRY: '', TELEMETRY_CREDENTIAL_ISSUERS: '' })[0]).toMatch(/trust no device/);
    expect(problemsOf({ TELEMETRY_KEY_REGISTRY: 'http://keys.example.com/jwks' })[0]).toMatch(/https/);
    expect(problemsOf({ TELEMETRY_MQTT_TLS_PORT: '8883' })[0]).toMatch(/TLS_CERT/);
  });
});

describe('CONFIG_DEFAULTS', () => {
  it('is the configuration of a node with nothing set, frozen', () => {
    expect(CONFIG_DEFAULTS).toEqual(parseConfig({}));
    expect(Object.isFrozen(CONFIG_DEFAULTS)).toBe(true);
  });

  it("holds each setting at its schema's default", () => {
    for (const { key, schema } of listSettings()) expect(CONFIG_DEFAULTS[key]).toBe(schema.default);
  });
});

describe('store settings', () => {
  const influx = { TELEMETRY_STORE: 'influxdb', TELEMETRY_INFLUX_URL: 'http://127.0.0.1:8086' };

  it('has defaults for the request timeout, write retries and retry budget, and no credentials', () => {
    expect(parseConfig({})).toMatchObject({
      storeTimeoutMs: 10_000,
      storeWriteRetries: 2,
      storeRetryBudgetMs: 3_000,
      influxUsername: '',
      influxPassword: '',
      influxRetentionPolicy: '',
    });
  });

  it('reads InfluxDB 1.x credentials, a retention policy, the timeout and the retries', () => {
    const config = parseConfig({
      ...influx,
      TELEMETRY_INFLUX_API: 'v1',
      TELEMETRY_INFLUX_USERNAME: 'ingest',
      TELEMETRY_INFLUX_PASSWORD: 's3cret',
      TELEMETRY_INFLUX_RETENTION_POLICY: 'four_weeks',
      TELEMETRY_STORE_TIMEOUT_MS: '2500',
      TELEMETRY_STORE_WRITE_RETRIES: '0',
      TELEMETRY_STORE_RETRY_BUDGET_MS: '500',
    });
    expect(config).toMatchObject({
      influxUsername: 'ingest',
      influxPassword: 's3cret',
      influxRetentionPolicy: 'four_weeks',
      storeTimeoutMs: 2_500,
      storeWriteRetries: 0,
      storeRetryBudgetMs: 500,
    });
  });

  it.each([
    ['TELEMETRY_STORE_TIMEOUT_MS', '0', 'an integer from 1 to 600000'],
    ['TELEMETRY_STORE_TIMEOUT_MS', '10s', 'an integer from 1 to 600000'],
    ['TELEMETRY_STORE_WRITE_RETRIES', '-1', 'an integer from 0 to 10'],
    ['TELEMETRY_STORE_WRITE_RETRIES', '11', 'an integer from 0 to 10'],
    ['TELEMETRY_STORE_RETRY_BUDGET_MS', 'soon', 'an integer from 0 to 60000'],
    ['TELEMETRY_STORE', 'influx', 'one of embedded, influxdb, victoriametrics'],
  ])('names %s when it is %j', (name, value, expected) => {
    expect(problemsOf({ ...influx, [name]: value })).toEqual([
      `${name} must be ${expected}, got ${JSON.stringify(value)}`,
    ]);
  });

  it('never echoes a password in a problem', () => {
    const problems = problemsOf({ TELEMETRY_INFLUX_PASSWORD: 'hunter2', TELEMETRY_INFLUX_TOKEN: 't' });
    expect(problems).toEqual(['TELEMETRY_INFLUX_PASSWORD needs TELEMETRY_INFLUX_USERNAME']);
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('refuses a token together with a username, and a retention policy outside the InfluxDB v1 API', () => {
    expect(problemsOf({ ...influx, TELEMETRY_INFLUX_TOKEN: 't', TELEMETRY_INFLUX_USERNAME: 'u' })).toEqual([
      'TELEMETRY_INFLUX_TOKEN and TELEMETRY_INFLUX_USERNAME exclude each other: set a token, or a username and password',
    ]);
    expect(problemsOf({ ...influx, TELEMETRY_INFLUX_RETENTION_POLICY: 'rp' })[0]).toMatch(
      /^TELEMETRY_INFLUX_RETENTION_POLICY needs TELEMETRY_STORE=influxdb and TELEMETRY_INFLUX_API=v1/,
    );
    expect(
      problemsOf({
        ...influx,
        TELEMETRY_STORE: 'victoriametrics',
        TELEMETRY_INFLUX_API: 'v1',
        TELEMETRY_INFLUX_RETENTION_POLICY: 'rp',
      })[0],
    ).toMatch(/^TELEMETRY_INFLUX_RETENTION_POLICY needs TELEMETRY_STORE=influxdb/);
  });

  it('accepts VictoriaMetrics by its own name and by the old spelling, with the same configuration', () => {
    const url = { TELEMETRY_INFLUX_URL: 'http://127.0.0.1:8428' };
    const byName = parseConfig({ ...url, TELEMETRY_STORE: 'victoriametrics' });
    const oldSpelling = parseConfig({ ...url, TELEMETRY_STORE: 'influxdb', TELEMETRY_INFLUX_QUERY: 'victoriametrics' });
    expect(byName.store).toBe('victoriametrics');
    expect(oldSpelling).toEqual(byName);
    expect(parseConfig(url, { store: 'victoriametrics' }).store).toBe('victoriametrics');
    expect(parseConfig({ ...url, TELEMETRY_STORE: 'influxdb' }).store).toBe('influxdb');
  });

  it('names TELEMETRY_INFLUX_URL as required for either server, and refuses a contradicting query dialect', () => {
    expect(problemsOf({ TELEMETRY_STORE: 'victoriametrics' })).toEqual([
      'TELEMETRY_INFLUX_URL is required when TELEMETRY_STORE=victoriametrics',
    ]);
    expect(
      problemsOf({
        TELEMETRY_STORE: 'victoriametrics',
        TELEMETRY_INFLUX_URL: 'http://127.0.0.1:8428',
        TELEMETRY_INFLUX_QUERY: 'influxql',
      }),
    ).toEqual([
      'TELEMETRY_INFLUX_QUERY=influxql contradicts TELEMETRY_STORE=victoriametrics: VictoriaMetrics is queried through its own API',
    ]);
  });

  it('lets several workers share an external store only', () => {
    expect(problemsOf({ TELEMETRY_WORKERS: '2' })).toEqual([
      'TELEMETRY_WORKERS > 1 needs TELEMETRY_STORE=influxdb or victoriametrics: the embedded store is one file for one process',
    ]);
    expect(problemsOf({ ...influx, TELEMETRY_WORKERS: '2' })).toEqual([]);
    expect(problemsOf({ ...influx, TELEMETRY_STORE: 'victoriametrics', TELEMETRY_WORKERS: '2' })).toEqual([]);
  });
});

describe('TELEMETRY_MQTT_CONNECTIONS', () => {
  it('opens one connection to an external broker, handed up to 256 messages at once, unless told otherwise', () => {
    expect(parseConfig({}).mqttConnections).toBe(1);
    expect(parseConfig({}).mqttReceiveMaximum).toBe(256);
    expect(parseConfig({ TELEMETRY_MQTT_CONNECTIONS: '4' }).mqttConnections).toBe(4);
  });

  it('names the setting that no longer exists when a node is still given a session expiry', () => {
    expect(problemsOf({ TELEMETRY_MQTT_SESSION_EXPIRY_SECONDS: '3600' })).toEqual([
      expect.stringMatching(/^TELEMETRY_MQTT_SESSION_EXPIRY_SECONDS is no longer a setting: .*remove it$/),
    ]);
  });

  it.each(['0', '65', 'many'])('refuses %j', (value) => {
    expect(problemsOf({ TELEMETRY_MQTT_CONNECTIONS: value })).toEqual([
      `TELEMETRY_MQTT_CONNECTIONS must be an integer from 1 to 64, got ${JSON.stringify(value)}`,
    ]);
  });
});

describe('parseDuration', () => {
  it.each([
    ['45', 45],
    ['45s', 45],
    ['15m', 900],
    ['12h', 43_200],
    ['30d', 2_592_000],
  ])('reads %s as %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', '1.5h', '-3s', '10w', 'soon'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
