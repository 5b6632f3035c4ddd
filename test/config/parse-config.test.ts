import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
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

describe('TELEMETRY_MQTT_CONNECTIONS', () => {
  it('opens 16 connections to an external broker unless told otherwise', () => {
    expect(parseConfig({}).mqttConnections).toBe(16);
    expect(parseConfig({ TELEMETRY_MQTT_CONNECTIONS: '1' }).mqttConnections).toBe(1);
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
