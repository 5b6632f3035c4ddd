import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { capturingIo } from '../support/capturing-io.js';

async function bridge(argv: readonly string[], env: Record<string, string> = {}) {
  const capture = capturingIo({ cwd: process.cwd(), env });
  return capture.result(await runCli(['bridge', ...argv], capture.io));
}

describe('telemetry bridge', () => {
  it('lists every setting with its flag, variable and default in --help', async () => {
    const { code, stdout } = await bridge(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('--node-url');
    expect(stdout).toContain('--node-mqtt-url');
    expect(stdout).toContain('TELEMETRY_BRIDGE_NODE_MQTT_TOKEN_TTL_SECONDS');
    expect(stdout).toContain('TELEMETRY_BRIDGE_BACKLOG_BYTES');
    expect(stdout).toContain('not that the sensor produced it');
  });

  it('refuses bad settings at start with exit code 78, naming each one', async () => {
    const { code, stderr } = await bridge(['--backlog-bytes', 'lots'], {
      TELEMETRY_BRIDGE_MAPPINGS: 'tasmota,esphome',
      TELEMETRY_BRIDGE_NODE_URL: 'node:8080',
      TELEMETRY_BRIDGE_NODE: 'typo',
      TELEMETRY_BRIDGE_NODE_MQTT_URL: 'http://node:1883',
      TELEMETRY_BRIDGE_NODE_MQTT_TOKEN_TTL_SECONDS: '1',
    });
    expect(code).toBe(78);
    expect(stderr).toContain('--backlog-bytes must be an integer');
    expect(stderr).toContain('TELEMETRY_BRIDGE_NODE is not a known setting');
    expect(stderr).toContain('TELEMETRY_BRIDGE_NODE_URL must be an http:// or https:// URL');
    expect(stderr).toContain('TELEMETRY_BRIDGE_NODE_MQTT_URL must be an mqtt:// or mqtts:// URL, or empty');
    expect(stderr).toContain('TELEMETRY_BRIDGE_NODE_MQTT_TOKEN_TTL_SECONDS must be an integer from 2 to 86400');
    expect(stderr).toContain('TELEMETRY_BRIDGE_MAPPINGS must name only tasmota, shelly, zigbee2mqtt');
  });

  it('refuses a rules file that does not parse, naming the setting', async () => {
    const { code, stderr } = await bridge(['--rules', '/nonexistent/rules.json']);
    expect(code).toBe(78);
    expect(stderr).toContain('TELEMETRY_BRIDGE_RULES /nonexistent/rules.json cannot be read (ENOENT)');
  });

  it("leaves the bridge's settings alone when serve reads the same environment", () => {
    expect(() => parseConfig({ TELEMETRY_BRIDGE_NODE_URL: 'http://node:8080' })).not.toThrow();
  });
});
