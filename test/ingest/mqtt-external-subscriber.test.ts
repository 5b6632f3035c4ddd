import type { IPublishPacket } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { pubackReasonCode } from '../../ingest/mqtt/mqtt-codes.js';
import { type ErrorCode, signMessage, signPayload, TelemetryError } from '../../src/index.js';
import { errorsTopic, messagesTopic } from '../../src/protocol/topics.js';
import { pollUntil } from '../support/poll-until.js';
import {
  alice,
  bob,
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

describe('external-broker subscriber', () => {
  it('stores the readings a device publishes at QoS 1, and PUBACKs the broker only after the store accepted them', async () => {
    const group = newGroup();
    const { store, subscriber, clientId } = await startTestNode(group);
    const device = await client(`dev-${alice.id}-${nextSequence()}`);
    store.hold();
    await device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, 1, reading(NOW - 1)), {
      qos: 1,
    });
    await pollUntil(async () => store.writesStarted === 1, 'the node to start writing');

    // Take the node's session over while the write is held: the broker hands the probe what the node has not
    // acknowledged, marked DUP.
    const redelivered: IPublishPacket[] = [];
    await client(clientId, {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      customHandleAcks: (_topic, _payload, packet: IPublishPacket) => {
        redelivered.push(packet);
      },
    });
    await pollUntil(async () => redelivered.length === 1, 'the unacknowledged message to be redelivered');
    expect(redelivered[0]?.dup).toBe(true);
    expect(redelivered[0]?.topic).toBe(messagesTopic(alice.id));
    await cleanups.pop()?.(); // the probe leaves without acknowledging

    // The node reconnects, gets it again, stores it once and acknowledges it.
    store.release();
    await pollUntil(async () => store.writesDone >= 2, 'the redelivered message to be stored');
    expect(await storedTimes(store, alice.id)).toEqual([NOW - 1]);
    await subscriber.close();

    // Now nothing is left unacknowledged in the session: the probe's first message is a new one.
    const received: string[] = [];
    const probe = await client(clientId, {
      clean: false,
      properties: { sessionExpiryInterval: 60 },
      customHandleAcks: (_topic, payload, _packet, ack) => {
        received.push(payload.toString());
        ack(0);
      },
    });
    await probe.subscribeAsync(`$share/${group}/devices/+/messages`, { qos: 1 });
    await device.publishAsync(messagesTopic(alice.id), 'marker', { qos: 1 });
    await pollUntil(async () => received.length > 0, 'the marker to arrive');
    expect(received).toEqual(['marker']);
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

  it('works on one message per connection at once over several connections, each its own session', async () => {
    const { node, store, subscriber, clientId } = await startTestNode(newGroup(), 3);
    expect(subscriber.clientIds).toEqual([clientId, `${clientId}-2`, `${clientId}-3`]);
    const device = await client(`dev-${alice.id}-${nextSequence()}`);
    store.hold();
    const sent = [NOW - 3, NOW - 2, NOW - 1];
    for (const [seq, ts] of sent.entries()) {
      await device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, seq, reading(ts)), { qos: 1 });
    }
    // One connection would hand over its next message only after the held write; three hold one each.
    const inflight = async () =>
      /telemetry_inflight_readings (\d+)/.exec((await node.app.inject('/metrics')).body)?.[1] ?? '0';
    await pollUntil(async () => (await inflight()) === '3', 'a message from each connection in the pipeline');
    store.release();
    await pollUntil(async () => (await storedTimes(store, alice.id)).length === sent.length, 'every message stored');
    expect(await storedTimes(store, alice.id)).toEqual(sent);
  });

  it('does not acknowledge while the store is down, and stores every message once after it heals', async () => {
    const { store } = await startTestNode(newGroup());
    const device = await client(`dev-${alice.id}-${nextSequence()}`);
    store.fail(new TelemetryError('ERR_STORE_UNAVAILABLE', 'down'));
    const sent = [NOW - 30, NOW - 20, NOW - 10];
    for (const [seq, ts] of sent.entries()) {
      await device.publishAsync(messagesTopic(alice.id), await signMessage(alice.signer, seq, reading(ts)), { qos: 1 });
    }
    // A second attempt at the first message can only come from the broker redelivering it after a reconnect.
    await pollUntil(async () => store.writesStarted >= 3, 'the broker to redeliver the unacknowledged message');
    expect(store.writesDone).toBe(0);
    store.heal();
    await pollUntil(async () => (await storedTimes(store, alice.id)).length === sent.length, 'every message stored');
    expect(await storedTimes(store, alice.id)).toEqual(sent);
  });
});
