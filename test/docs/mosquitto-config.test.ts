import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
import { ALL_MESSAGES_FILTER, messagesTopic } from '../../src/protocol/topics.js';
import { pollUntil } from '../support/poll-until.js';
import { accepts, freePort, runServerProcess, type TestServer } from '../support/server-process.js';
import { loadCompose, mosquittoDirectives, nodeServices, readRepoFile, splitVolume } from './compose-stack.js';

const configPath = 'deploy/mosquitto/mosquitto.conf';
const config = readRepoFile(configPath);
const directives = mosquittoDirectives(config);
const compose = loadCompose();
const subscribers = nodeServices(compose).filter(([, node]) => node.environment?.TELEMETRY_MQTT === 'external');

describe('deploy/mosquitto/mosquitto.conf', () => {
  let broker: TestServer | undefined;
  let dataDir: string | undefined;
  let url: string;

  // The file as it is, but listening on a free loopback port and persisting into a temporary folder.
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'mosquitto-conf-test-'));
    await chmod(dataDir, 0o777); // started as root, mosquitto switches to its own user before it writes
    const port = await freePort();
    const copy = config
      .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
      .replace(/^persistence_location .*$/m, `persistence_location ${dataDir}/`);
    expect(copy).toContain(`listener ${port} 127.0.0.1`);
    const copyPath = join(dataDir, 'mosquitto.conf');
    await writeFile(copyPath, copy);
    url = `mqtt://127.0.0.1:${port}`;
    broker = await runServerProcess({
      binary: '/usr/sbin/mosquitto',
      args: ['-c', copyPath],
      url,
      dataDir,
      ready: () => accepts(port),
    });
  });

  afterAll(async () => {
    await broker?.stop();
    // Also when the broker did not start, which leaves its folder behind.
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it("starts the real broker, which hands a QoS 1 message to the subscriber nodes' shared subscription", async () => {
    const group = subscribers[0]?.[1].environment?.TELEMETRY_MQTT_SHARE_GROUP ?? '';
    const node = await connectAsync(url, { protocolVersion: 5, clientId: 'node-probe', reconnectPeriod: 0 });
    const device = await connectAsync(url, { protocolVersion: 5, clientId: 'device-probe', reconnectPeriod: 0 });
    try {
      const received: string[] = [];
      node.on('message', (topic) => received.push(topic));
      await node.subscribeAsync(`$share/${group}/${ALL_MESSAGES_FILTER}`, { qos: 1 });
      await device.publishAsync(messagesTopic('boiler-7'), 'a.b.c', { qos: 1 });
      await pollUntil(async () => received.length === 1, 'the shared subscription to get the message');
      expect(received).toEqual([messagesTopic('boiler-7')]);
    } finally {
      await device.endAsync(true);
      await node.endAsync(true);
    }
  });

  it('keeps the settings of the broker the tests run (test/support/mosquitto-server.ts), with persistence on', () => {
    expect(directives.get('listener')).toEqual(['1883']);
    expect(directives.get('max_inflight_messages')).toEqual(['20']);
    expect(directives.get('max_queued_messages')).toEqual(['100000']);
    expect(directives.get('persistence')).toEqual(['true']);
    expect(directives.get('persistence_location')).toEqual(['/mosquitto/data/']);
  });

  it('is where the mosquitto service reads it, with its data on a volume, on the port the nodes subscribe to', () => {
    const mosquitto = compose.services.mosquitto;
    const mounts = mosquitto?.volumes?.map(splitVolume) ?? [];
    expect(mounts).toContainEqual({
      source: `./${configPath}`,
      target: '/mosquitto/config/mosquitto.conf',
      mode: 'ro',
    });
    expect(mounts.map((m) => m.target)).toContain('/mosquitto/data');
    expect(subscribers.length).toBeGreaterThan(1);
    for (const [, node] of subscribers) {
      const brokerUrl = new URL(parseConfig({ ...node.environment }).mqttBrokerUrl);
      expect({ host: brokerUrl.hostname, port: brokerUrl.port }).toEqual({ host: 'mosquitto', port: '1883' });
      expect(node.depends_on?.mosquitto).toBeDefined();
    }
  });

  it('gives every subscriber node the same share group and a client id of its own', () => {
    const settings = subscribers.map(([, node]) => parseConfig({ ...node.environment }));
    expect(new Set(settings.map((s) => s.mqttShareGroup)).size).toBe(1);
    expect(new Set(settings.map((s) => s.mqttClientId)).size).toBe(subscribers.length);
    for (const s of settings) expect(s.mqttClientId).not.toBe('');
  });
});
