import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
import { ALL_MESSAGES_FILTER, acksTopic, errorsTopic, messagesTopic } from '../../src/protocol/topics.js';
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
      .replace(/^persistence_location .*$/m, `persistence_location ${dataDir}/`)
      .replace(/^acl_file .*$/m, `acl_file ${join(dataDir, 'acl.conf')}`);
    expect(copy).toContain(`listener ${port} 127.0.0.1`);
    await writeFile(join(dataDir, 'acl.conf'), readRepoFile('deploy/mosquitto/acl.conf'), { mode: 0o644 });
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
    const username = subscribers[0]?.[1].environment?.TELEMETRY_MQTT_USERNAME;
    const node = await connectAsync(url, { protocolVersion: 5, clientId: 'node-probe', username, reconnectPeriod: 0 });
    const device = await connectAsync(url, {
      protocolVersion: 5,
      clientId: 'device-probe',
      username: 'boiler-7',
      reconnectPeriod: 0,
    });
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

  it("keeps each device to its own topics (acl.conf): it gets its own acknowledgements and notices, no other device's", async () => {
    const username = subscribers[0]?.[1].environment?.TELEMETRY_MQTT_USERNAME;
    const group = subscribers[0]?.[1].environment?.TELEMETRY_MQTT_SHARE_GROUP ?? '';
    const node = await connectAsync(url, { protocolVersion: 5, clientId: 'acl-node', username, reconnectPeriod: 0 });
    const device = await connectAsync(url, { protocolVersion: 4, clientId: 'acl-device', username: 'pump-1' });
    const intruder = await connectAsync(url, { protocolVersion: 4, clientId: 'acl-intruder', username: 'pump-2' });
    try {
      const toNode: string[] = [];
      const toDevice: string[] = [];
      const toIntruder: string[] = [];
      node.on('message', (topic, payload) => toNode.push(`${topic} ${payload}`));
      device.on('message', (topic, payload) => toDevice.push(`${topic} ${payload}`));
      intruder.on('message', (topic, payload) => toIntruder.push(`${topic} ${payload}`));
      await node.subscribeAsync(`$share/${group}/${ALL_MESSAGES_FILTER}`, { qos: 1 });
      await device.subscribeAsync([acksTopic('pump-1'), errorsTopic('pump-1')], { qos: 1 });
      await intruder.subscribeAsync([acksTopic('pump-1'), errorsTopic('pump-1'), '#'], { qos: 1 });

      await device.publishAsync(messagesTopic('pump-1'), 'own', { qos: 1 });
      await device.publishAsync(messagesTopic('pump-2'), 'foreign', { qos: 1 });
      await intruder.publishAsync(acksTopic('pump-1'), '{"seqs":[99]}', { qos: 1 });
      await node.publishAsync(acksTopic('pump-1'), '{"seqs":[1]}', { qos: 0 });
      await node.publishAsync(errorsTopic('pump-1'), 'notice', { qos: 0 });
      await pollUntil(async () => toDevice.length === 2, 'the acknowledgement and the notice');

      expect(toNode).toEqual([`${messagesTopic('pump-1')} own`]);
      expect(toDevice.sort()).toEqual([`${acksTopic('pump-1')} {"seqs":[1]}`, `${errorsTopic('pump-1')} notice`]);
      expect(toIntruder).toEqual([]);
    } finally {
      await Promise.all([node.endAsync(true), device.endAsync(true), intruder.endAsync(true)]);
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
