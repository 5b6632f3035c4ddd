import { beforeEach, describe, expect, it } from 'vitest';
import { type ErrorCode, signMessage, signPayload, TelemetryError } from '../../src/index.js';
import { acksTopic, messagesTopic } from '../../src/protocol/topics.js';
import {
  alice,
  bob,
  broker,
  connect,
  NOW,
  node,
  reading,
  start,
  store,
  stored,
  until,
  useEmbeddedBroker,
  watch,
} from './mqtt-embedded-support.js';

useEmbeddedBroker();

describe('publishing over the embedded broker', () => {
  beforeEach(() => start());

  it('stores a QoS 1 message and acknowledges it only after the store accepted the write', async () => {
    const client = await connect(alice);
    store.hold();
    let acked = false;
    const ack = client.publishAsync(messagesTopic(alice.id), await reading(1), { qos: 1 }).then(() => {
      acked = true;
    });
    await until(() => store.writesStarted === 1);
    expect(acked).toBe(false);
    expect(store.writesDone).toBe(0);
    store.release();
    await ack;
    expect(store.writesDone).toBe(1);
    expect(await stored(alice.id)).toEqual([{ device: alice.id, metric: 't', ts: NOW - 1, value: 1 }]);
  });

  it('counts the latency of each PUBACK it sends for a stored message, and none for a rejected one', async () => {
    const client = await connect(alice);
    await client.publishAsync(messagesTopic(alice.id), await reading(1), { qos: 1 });
    await client.publishAsync(messagesTopic(alice.id), await reading(2), { qos: 1 });
    await client.publishAsync(messagesTopic(alice.id), 'not a jws', { qos: 1 });
    const metrics = await node.metrics.registry.metrics();
    expect(metrics).toMatch(/^telemetry_ack_seconds_count\{transport="mqtt"\} 2$/m);
    expect(metrics).toContain('telemetry_messages_rejected_total{transport="mqtt",code="ERR_MESSAGE_MALFORMED"} 1');
  });

  it('acknowledges stored messages end to end on devices/{id}/acks to a device subscribed there, after the PUBACK', async () => {
    const client = await connect(alice);
    const acks: number[][] = [];
    client.on('message', (topic, payload) => {
      if (topic === acksTopic(alice.id)) acks.push(JSON.parse(payload.toString()).seqs);
    });
    const [granted] = await client.subscribeAsync(acksTopic(alice.id), { qos: 1 });
    expect(granted?.qos).toBe(1);
    await client.publishAsync(messagesTopic(alice.id), await reading(4), { qos: 1 });
    await client.publishAsync(messagesTopic(alice.id), 'not a jws', { qos: 1 });
    await client.publishAsync(messagesTopic(alice.id), await reading(5), { qos: 0 });
    await until(() => acks.flat().length === 2);
    // Refused messages get their notice, never an acknowledgement.
    expect(acks.flat().sort()).toEqual([4, 5]);
  });

  it("sends no acknowledgements to a device that did not ask for them, nor another device's", async () => {
    const [watcher, sender] = [await connect(bob), await connect(alice)];
    const seen: string[] = [];
    watcher.on('message', (topic) => seen.push(topic));
    // Another device's acks topic is refused in SUBACK (0x80), as any foreign filter is.
    await expect(watcher.subscribeAsync(acksTopic(alice.id), { qos: 1 })).rejects.toThrow(/Subscribe error/);
    await sender.publishAsync(messagesTopic(alice.id), await reading(6), { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen).toEqual([]);
  });

  it('stores a QoS 0 message too', async () => {
    const client = await connect(alice);
    await client.publishAsync(messagesTopic(alice.id), await reading(2), { qos: 0 });
    await until(() => store.writesDone === 1);
    expect(await stored(alice.id)).toHaveLength(1);
  });

  it('stores a QoS 2 message and sends PUBREC (then PUBCOMP) only after the store accepted the write', async () => {
    const client = await connect(alice);
    const received: string[] = [];
    client.on('packetreceive', (packet) => received.push(packet.cmd));
    store.hold();
    const done = client.publishAsync(messagesTopic(alice.id), await reading(1), { qos: 2 });
    await until(() => store.writesStarted === 1);
    expect(received).not.toContain('pubrec');
    store.release();
    await done;
    expect(received.filter((cmd) => cmd === 'pubrec' || cmd === 'pubcomp')).toEqual(['pubrec', 'pubcomp']);
    expect(await stored(alice.id)).toHaveLength(1);
  });

  it('answers a rejected QoS 2 message with a notice, then PUBREC, and keeps the connection', async () => {
    const client = await connect(alice);
    const seen = await watch(client, alice);
    await client.publishAsync(messagesTopic(alice.id), 'not a jws', { qos: 2 });
    expect(seen.notices).toEqual([
      { seq: null, code: 'ERR_MESSAGE_MALFORMED', message: expect.any(String), retryable: false },
    ]);
    expect(client.connected).toBe(true);
  });

  it('stores a retained message without keeping it in the broker', async () => {
    const client = await connect(alice);
    await client.publishAsync(messagesTopic(alice.id), await reading(3), { qos: 1, retain: true });
    expect(await stored(alice.id)).toHaveLength(1);
  });

  it.each<[string, () => Promise<string | Buffer>, ErrorCode, number | null]>([
    ['a tampered message', async () => `${(await reading(1)).slice(0, -4)}AAAA`, 'ERR_SIGNATURE_INVALID', null],
    ['garbage', async () => 'not a jws', 'ERR_MESSAGE_MALFORMED', null],
    [
      'an unknown key',
      async () =>
        signPayload(
          { ...alice.signer, kid: 'nobody.k1' },
          { v: 1, device: alice.id, seq: 1, readings: [{ ts: NOW, values: { t: 1 } }] },
        ),
      'ERR_UNKNOWN_KEY',
      null,
    ],
    [
      'a schema error',
      async () => signPayload(alice.signer, { v: 1, device: alice.id, seq: 1, readings: [] }),
      'ERR_PAYLOAD_INVALID',
      1,
    ],
    [
      'a bad metric name',
      async () => signMessage(alice.signer, 1, [{ ts: NOW, values: { 'a b': 1 } }]),
      'ERR_NAME_INVALID',
      1,
    ],
    [
      'an old reading',
      async () => signMessage(alice.signer, 1, [{ ts: NOW - 30 * 86_400_000, values: { t: 1 } }]),
      'ERR_TIMESTAMP_OUT_OF_RANGE',
      1,
    ],
    ['duplicate JSON names', async () => signPayload(alice.signer, `{"v":1,"v":1}`), 'ERR_PAYLOAD_MALFORMED', null],
    ['a message over the size limit', async () => Buffer.alloc(65_537, 'a'), 'ERR_MESSAGE_TOO_LARGE', null],
  ])(
    'acknowledges %s, publishes a notice with its code (and seq once authenticated) and keeps the connection',
    async (_name, make, code, seq) => {
      const client = await connect(alice);
      const seen = await watch(client, alice);
      const other = await connect(bob);
      const bobSeen = await watch(other, bob);
      await client.publishAsync(messagesTopic(alice.id), await make(), { qos: 1 });
      // The notice travels before the PUBACK, so it is already here when the publish resolves.
      expect(seen.notices).toHaveLength(1);
      expect(seen.notices[0]).toEqual({ seq, code, message: expect.any(String), retryable: false });
      expect(client.connected).toBe(true);
      await client.publishAsync(messagesTopic(alice.id), await reading(5), { qos: 1 });
      expect(await stored(alice.id)).toHaveLength(1);
      expect(bobSeen.notices).toEqual([]);
      const metrics = await node.metrics.registry.metrics();
      expect(metrics).toContain(`telemetry_messages_rejected_total{transport="mqtt",code="${code}"} 1`);
    },
  );

  it.each<[string, () => Promise<{ topic: string; payload: string }>, ErrorCode, number | null]>([
    [
      'a message naming another device',
      async () => ({ topic: messagesTopic(alice.id), payload: await reading(1, bob) }),
      'ERR_DEVICE_MISMATCH',
      1,
    ],
    [
      "a message on another device's topic",
      async () => ({ topic: messagesTopic(bob.id), payload: await reading(1) }),
      'ERR_TOPIC_FORBIDDEN',
      null,
    ],
  ])('answers %s with a notice, then closes the connection without acknowledging', async (_name, make, code, seq) => {
    const client = await connect(alice);
    const seen = await watch(client, alice);
    const { topic, payload } = await make();
    let acked = false;
    client.publish(topic, payload, { qos: 1 }, (error) => {
      acked = error === undefined;
    });
    await until(() => seen.events.includes('close'));
    expect(seen.events).toEqual(['notice', 'close']);
    expect(seen.notices[0]).toEqual({ seq, code, message: expect.any(String), retryable: false });
    expect(acked).toBe(false);
    expect(await stored(alice.id)).toHaveLength(0);
    expect(await stored(bob.id)).toHaveLength(0);
  });

  it('withholds the PUBACK while the store is down, closes, and stores the resent message once it heals', async () => {
    const other = await connect(bob);
    const bobSeen = await watch(other, bob);
    const client = await connect(alice, { reconnectPeriod: 50 });
    const seen = await watch(client, alice);
    store.fail(new TelemetryError('ERR_STORE_UNAVAILABLE', 'down', { retryAfter: 7 }));
    let acked = false;
    const ack = client.publishAsync(messagesTopic(alice.id), await reading(1), { qos: 1 }).then(() => {
      acked = true;
    });
    await until(() => seen.events.includes('close'));
    expect(seen.events.slice(0, 2)).toEqual(['notice', 'close']);
    expect(seen.notices[0]).toEqual({
      seq: 1,
      code: 'ERR_STORE_UNAVAILABLE',
      message: expect.any(String),
      retryable: true,
      retryAfter: 7,
    });
    expect(acked).toBe(false);
    expect(other.connected).toBe(true);
    store.heal();
    await ack;
    expect(await stored(alice.id)).toHaveLength(1);
    await other.publishAsync(messagesTopic(bob.id), await reading(1, bob), { qos: 1 });
    expect(await stored(bob.id)).toHaveLength(1);
    expect(bobSeen.events).toEqual([]);
  });

  it('closes a connection after ten rejected messages in a row, acknowledging each', async () => {
    const client = await connect(alice);
    const seen = await watch(client, alice);
    const acks = Array.from({ length: 10 }, () =>
      client.publishAsync(messagesTopic(alice.id), 'not a jws', { qos: 1 }).then(() => 'acked'),
    );
    expect(await Promise.all(acks)).toEqual(Array(10).fill('acked'));
    await until(() => seen.events.includes('close'));
    expect(seen.notices).toHaveLength(10);
  });

  it('closes the connection with a notice when a packet exceeds the size cap', async () => {
    const client = await connect(alice);
    const seen = await watch(client, alice);
    client.publish(messagesTopic(alice.id), Buffer.alloc(200_000, 'a'), { qos: 1 });
    await until(() => seen.events.includes('close'));
    expect(seen.events).toEqual(['notice', 'close']);
    expect(seen.notices[0]).toMatchObject({ code: 'ERR_MESSAGE_TOO_LARGE', retryable: false });
  });

  it('serves MQTT over WebSocket', async () => {
    const client = await connect(alice, { url: `ws://127.0.0.1:${broker?.wsPort}` });
    await client.publishAsync(messagesTopic(alice.id), await reading(1), { qos: 1 });
    expect(await stored(alice.id)).toHaveLength(1);
  });
});
