import { ErrorWithSubackPacket } from 'mqtt';
import { beforeEach, describe, expect, it } from 'vitest';
import { errorsTopic, messagesTopic } from '../../src/protocol/topics.js';
import type { TestDevice } from '../support/devices.js';
import {
  alice,
  bob,
  broker,
  connect,
  NOW,
  node,
  reading,
  selfSignedCertificate,
  start,
  stored,
  stranger,
  token,
  until,
  useEmbeddedBroker,
  watch,
} from './mqtt-embedded-support.js';

useEmbeddedBroker();

describe('subscribing', () => {
  beforeEach(() => start());

  it.each([
    ['#', () => '#'],
    ['devices/+/errors', () => 'devices/+/errors'],
    ["another device's errors topic", () => errorsTopic(bob.id)],
    ['its own messages topic', () => messagesTopic(alice.id)],
  ])('refuses a subscription to %s with SUBACK 128', async (_name, filter) => {
    const client = await connect(alice);
    // mqtt.js turns a SUBACK failure code into an error that carries the SUBACK.
    const refusal = await client.subscribeAsync(filter(), { qos: 1 }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ErrorWithSubackPacket);
    expect((refusal as ErrorWithSubackPacket).packet.granted).toEqual([128]);
    expect(client.connected).toBe(true);
  });

  it("grants a subscription to the device's own errors topic", async () => {
    const client = await connect(alice);
    const granted = await client.subscribeAsync(errorsTopic(alice.id), { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
  });

  it('accepts a subscription at any QoS and delivers notices at QoS 0', async () => {
    const client = await connect(alice);
    const granted = await client.subscribeAsync(errorsTopic(alice.id), { qos: 2 });
    expect(granted.map((g) => g.qos)).not.toContain(128);
    const delivered: number[] = [];
    client.on('message', (_topic, _payload, packet) => delivered.push(packet.qos));
    await client.publishAsync(messagesTopic(alice.id), 'not a jws', { qos: 1 });
    expect(delivered).toEqual([0]);
  });
});

describe('connecting', () => {
  beforeEach(() => start());

  it.each<[string, number, () => Promise<{ device: TestDevice; token: string }>]>([
    ['a bad password', 4, async () => ({ device: alice, token: 'not a token' })],
    ['an expired token', 4, async () => ({ device: alice, token: await token(alice, 60, NOW - 3_600_000) })],
    ['a token of another device than the user name', 5, async () => ({ device: alice, token: await token(bob) })],
    ['a token of an unknown device', 5, async () => ({ device: stranger, token: await token(stranger) })],
  ])('refuses a CONNECT with %s (CONNACK %d)', async (_name, returnCode, make) => {
    const { device, token: password } = await make();
    await expect(connect(device, { token: password })).rejects.toMatchObject({ code: returnCode });
    expect(await node.metrics.registry.getSingleMetricAsString('telemetry_mqtt_connections')).toMatch(/ 0$/m);
    const refused = await node.metrics.registry.getSingleMetricAsString('telemetry_mqtt_connections_refused_total');
    expect(refused).toMatch(
      new RegExp(`^telemetry_mqtt_connections_refused_total\\{code="ERR_\\w+",connack="${returnCode}"\\} 1$`, 'm'),
    );
  });

  it('closes the connection when its token expires', async () => {
    const client = await connect(alice, { token: await token(alice, 2) });
    const seen = await watch(client, alice);
    expect(await node.metrics.registry.getSingleMetricAsString('telemetry_mqtt_connections')).toMatch(/ 1$/m);
    await until(() => seen.events.includes('close'), 6000);
    expect(seen.notices[0]).toMatchObject({ code: 'ERR_TOKEN_EXPIRED' });
    await until(() => !client.connected);
  });
});

describe('MQTT over TLS', () => {
  it('accepts a device over mqtts:// with a certificate the device trusts', async () => {
    const tls = selfSignedCertificate();
    await start({}, tls);
    const client = await connect(alice, { url: `mqtts://127.0.0.1:${broker?.tlsPort}`, ca: tls.cert });
    await client.publishAsync(messagesTopic(alice.id), await reading(1), { qos: 1 });
    expect(await stored(alice.id)).toHaveLength(1);
  });
});
