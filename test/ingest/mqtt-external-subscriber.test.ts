import { connect } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { pubackReasonCode } from '../../ingest/mqtt/mqtt-codes.js';
import { type ErrorCode, signMessage, signPayload, TelemetryError } from '../../src/index.js';
import { acksTopic, errorsTopic, messagesTopic } from '../../src/protocol/topics.js';
import { pollUntil } from '../support/poll-until.js';
import {
  alice,
  bob,
  broker,
  cleanups,
  client,
  NOW,
  newGroup,
  nextSequence,
  reading,
  startTestNode,
  storedTimes,
  useMosquitto,
} from './mqtt-external-support.js';

useMosquitto();

/** Collects what arrives on `device`'s acks topic, each acknowledgement as its list of seqs. */
async function acksOf(device: string): Promise<number[][]> {
  const listener = await client(`acks-${device}-${nextSequence()}`);
  const acks: number[][] = [];
  listener.on('message', (_topic, payload) => acks.push(JSON.parse(payload.toString()).seqs));
  await listener.subscribeAsync(acksTopic(device), { qos: 1 });
  return acks;
}

describe('external-broker subscriber', () => {
  it('acknowledges a message end to end on devices/{id}/acks only once the store accepted its readings', async () => {
    const { store } = await startTestNode(newGroup());
    const acks = await acksOf(alice.id);
    const device = await client(`dev-${alice.id}-${nextSequence()}`);
    store.hold();
    await device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, 7, reading(NOW - 1)), {
      qos: 1,
    });
    await pollUntil(async () => store.writesStarted === 1, 'the node to start writing');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(acks).toEqual([]);
    store.release();
    await pollUntil(async () => acks.length === 1, 'the acknowledgement');
    expect(acks).toEqual([[7]]);
    expect(await storedTimes(store, alice.id)).toEqual([NOW - 1]);
  });

  it('acknowledges the messages of one device stored together in one acknowledgement', async () => {
    const { store } = await startTestNode(newGroup());
    const [aliceAcks, bobAcks] = [await acksOf(alice.id), await acksOf(bob.id)];
    const device = await client(`dev-${nextSequence()}`);
    store.hold();
    const sent = [1, 2, 3, 4, 5, 6];
    for (const seq of sent) {
      await device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, seq, reading(NOW - seq)), {
        qos: 1,
      });
    }
    await device.publishAsync(messagesTopic(bob.id), await signMessage(bob.signer, 9, reading(NOW - 9)), { qos: 1 });
    await pollUntil(async () => store.writesStarted >= 1, 'the first write to start');
    await new Promise((resolve) => setTimeout(resolve, 200));
    store.release();
    await pollUntil(async () => aliceAcks.flat().length === sent.length, "every one of alice's messages acknowledged");
    await pollUntil(async () => bobAcks.length === 1, "bob's acknowledgement");
    expect(aliceAcks.flat().sort((a, b) => a - b)).toEqual(sent);
    // Messages gathered behind the held write were stored, and acknowledged, together.
    expect(aliceAcks.length).toBeLessThan(sent.length);
    expect(aliceAcks.length).toBeLessThanOrEqual(store.writesStarted);
    expect(bobAcks).toEqual([[9]]);
  });

  it.each<[string, () => Promise<string>, ErrorCode, number | null]>([
    ['garbage', async () => 'not a jws', 'ERR_MESSAGE_MALFORMED', null],
    [
      "a message signed by another device's key on this device's topic",
      async () => signMessage(bob.signer, 1, reading(NOW - 5)),
      'ERR_DEVICE_MISMATCH',
      1,
    ],
    [
      'a message naming another device',
      async () => signPayload(bob.signer, { v: 1, device: alice.id, seq: 1, readings: reading(NOW - 5) }),
      'ERR_DEVICE_MISMATCH',
      1,
    ],
    [
      'a schema error',
      async () => signPayload(alice.signer, { v: 1, device: alice.id, seq: 1, readings: [] }),
      'ERR_PAYLOAD_INVALID',
      1,
    ],
  ])('rejects %s with a notice on the device errors topic and does not store it', async (_name, make, code, seq) => {
    const { node, store } = await startTestNode(newGroup());
    const device = await client(`dev-${alice.id}-${nextSequence()}`);
    const notices: unknown[] = [];
    device.on('message', (_topic, payload) => notices.push(JSON.parse(payload.toString())));
    await device.subscribeAsync(errorsTopic(alice.id), { qos: 0 });
    await device.publishAsync(messagesTopic(alice.id), await make(), { qos: 1 });
    await pollUntil(async () => notices.length === 1, 'the error notice');
    expect(notices[0]).toEqual({ seq, code, message: expect.any(String), retryable: false });
    // Acknowledged with a failure code, so the broker dropped it: the next message is the next one stored.
    await device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, 2, reading(NOW - 2)), {
      qos: 1,
    });
    await pollUntil(async () => (await storedTimes(store, alice.id)).length === 1, 'the good message to be stored');
    expect(await storedTimes(store, alice.id)).toEqual([NOW - 2]);
    expect(store.writesStarted).toBe(1);
    const metrics = (await node.app.inject('/metrics')).body;
    expect(metrics).toContain(`telemetry_messages_rejected_total{transport="mqtt",code="${code}"} 1`);
  });

  it('chooses an MQTT 5 PUBACK failure reason code by the kind of error', () => {
    expect(pubackReasonCode('ERR_DEVICE_MISMATCH')).toBe(0x87);
    expect(pubackReasonCode('ERR_SIGNATURE_INVALID')).toBe(0x87);
    expect(pubackReasonCode('ERR_MESSAGE_MALFORMED')).toBe(0x99);
    expect(pubackReasonCode('ERR_PAYLOAD_MALFORMED')).toBe(0x99);
    expect(pubackReasonCode('ERR_TIMESTAMP_OUT_OF_RANGE')).toBe(0x83);
  });

  it('splits the stream between two nodes of one share group, each message stored by exactly one', async () => {
    const group = newGroup();
    const [first, second] = [await startTestNode(group), await startTestNode(group)];
    const device = await client(`dev-${alice.id}-${nextSequence()}`);
    const sent: number[] = [];
    for (let seq = 0; seq < 20; seq++) {
      sent.push(NOW - 100 + seq);
      await device.publishAsync(
        messagesTopic(alice.id),
        await signMessage(alice.signer, seq, reading(NOW - 100 + seq)),
        {
          qos: 1,
        },
      );
    }
    const both = async () => [
      ...(await storedTimes(first.store, alice.id)),
      ...(await storedTimes(second.store, alice.id)),
    ];
    await pollUntil(async () => (await both()).length >= sent.length, 'every message to be stored');
    expect((await both()).sort((a, b) => a - b)).toEqual(sent);
    expect((await storedTimes(first.store, alice.id)).length).toBeGreaterThan(0);
    expect((await storedTimes(second.store, alice.id)).length).toBeGreaterThan(0);
  });

  it('works on many messages of one connection at once, up to its receive maximum', async () => {
    const { node, store, subscriber, clientId } = await startTestNode(newGroup());
    expect(subscriber.clientIds).toEqual([clientId]);
    const device = await client(`dev-${alice.id}-${nextSequence()}`);
    store.hold();
    const sent = Array.from({ length: 40 }, (_, n) => NOW - 1000 + n);
    await Promise.all(
      sent.map(async (ts, seq) =>
        device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, seq, reading(ts)), { qos: 1 }),
      ),
    );
    // mqtt.js would have handed over the next message only after the held write; this connection takes them all.
    const inflight = async () =>
      Number(/telemetry_inflight_readings (\d+)/.exec((await node.app.inject('/metrics')).body)?.[1] ?? '0');
    await pollUntil(async () => (await inflight()) === sent.length, 'every message in the pipeline at once');
    store.release();
    await pollUntil(async () => (await storedTimes(store, alice.id)).length === sent.length, 'every message stored');
    expect(await storedTimes(store, alice.id)).toEqual(sent);
  });

  it('holds no more QoS 0 messages at once than its receive maximum, reading on as they are done', async () => {
    const { node, store } = await startTestNode(newGroup(), 1, 5);
    const device = await client(`dev-${alice.id}-${nextSequence()}`);
    store.hold();
    const sent = Array.from({ length: 30 }, (_, n) => NOW - 2000 + n);
    for (const [seq, ts] of sent.entries()) {
      await device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, seq, reading(ts)), { qos: 0 });
    }
    const inflight = async () =>
      Number(/telemetry_inflight_readings (\d+)/.exec((await node.app.inject('/metrics')).body)?.[1] ?? '0');
    await pollUntil(async () => (await inflight()) === 5, 'five messages in the pipeline');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await inflight()).toBe(5);
    store.release();
    await pollUntil(async () => (await storedTimes(store, alice.id)).length === sent.length, 'every message stored');
    expect(await storedTimes(store, alice.id)).toEqual(sent);
  });

  it('answers a message it cannot store now with a retryable notice and leaves the resend to the device', async () => {
    const { store } = await startTestNode(newGroup());
    const acks = await acksOf(alice.id);
    const device = await client(`dev-${alice.id}-${nextSequence()}`);
    const notices: Array<Record<string, unknown>> = [];
    device.on('message', (_topic, payload) => notices.push(JSON.parse(payload.toString())));
    await device.subscribeAsync(errorsTopic(alice.id), { qos: 1 });
    store.fail(new TelemetryError('ERR_STORE_UNAVAILABLE', 'down', { retryAfter: 2 }));
    const message = await signMessage(alice.signer, 3, reading(NOW - 30));
    await device.publishAsync(messagesTopic(alice.id), message, { qos: 1 });
    await pollUntil(async () => notices.length === 1, 'the notice');
    expect(notices[0]).toMatchObject({ seq: 3, code: 'ERR_STORE_UNAVAILABLE', retryable: true, retryAfter: 2 });
    // The node acknowledged it to the broker with a failure code: the broker does not deliver it again.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(store.writesStarted).toBe(1);
    expect(acks).toEqual([]);
    // The device resends the same bytes after retryAfter; now it is stored and acknowledged.
    store.heal();
    await device.publishAsync(messagesTopic(alice.id), message, { qos: 1 });
    await pollUntil(async () => acks.length === 1, 'the acknowledgement of the resent message');
    expect(acks).toEqual([[3]]);
    expect(await storedTimes(store, alice.id)).toEqual([NOW - 30]);
  });

  it('keeps no session at the broker: a client id it used starts afresh, with nothing queued for it', async () => {
    const group = newGroup();
    const { subscriber, clientId } = await startTestNode(group);
    const device = await client(`dev-${alice.id}-${nextSequence()}`);
    await subscriber.close();
    // With the node gone, a message for the group has no member: nothing is kept for the node's client id.
    await device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, 1, reading(NOW - 3)), {
      qos: 1,
    });
    const probe = connect(broker.url, {
      protocolVersion: 5,
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      reconnectPeriod: 0,
    });
    cleanups.push(() => probe.endAsync(true));
    const received: string[] = [];
    probe.on('message', (_topic, payload) => received.push(payload.toString()));
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => probe.once('connect', resolve));
    expect(connack.sessionPresent).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toEqual([]);
  });
});
