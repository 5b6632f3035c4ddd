import { describe, expect, it } from 'vitest';
import { CLOSE_GRACE_MS } from '../../ingest/mqtt/device-session.js';
import { messagesTopic } from '../../src/protocol/topics.js';
import {
  alice,
  bob,
  broker,
  connect,
  node,
  reading,
  selfSignedCertificate,
  start,
  store,
  stored,
  token,
  tracePipeline,
  until,
  useEmbeddedBroker,
  watch,
} from './mqtt-embedded-support.js';

useEmbeddedBroker();

describe('backpressure', () => {
  it('keeps in-flight readings under the cap while the store does not answer', async () => {
    await start({ TELEMETRY_MAX_INFLIGHT_READINGS: '3', TELEMETRY_BATCH_MAX_READINGS: '3' });
    store.hold();
    const client = await connect(alice);
    const seen = await watch(client, alice);
    for (let seq = 0; seq < 50; seq++) {
      client.publish(messagesTopic(alice.id), await reading(seq), { qos: 1 });
    }
    let most = 0;
    await until(() => {
      most = Math.max(most, node.writer.inflight);
      return seen.events.includes('close');
    });
    expect(most).toBeLessThanOrEqual(3);
    expect(seen.notices[0]).toMatchObject({ code: 'ERR_OVERLOADED', retryable: true, retryAfter: 1 });
  });
});

describe('per-connection backpressure', () => {
  const LIMIT = 32;
  const FLOOD = 1000;
  const seqs = Array.from({ length: FLOOD }, (_, seq) => seq);

  it.each(['mqtt', 'ws', 'mqtts'] as const)(
    'keeps a flood over %s to the limit in the pipeline and stops reading, then stores every message once',
    async (scheme) => {
      const tls = scheme === 'mqtts' ? selfSignedCertificate() : undefined;
      await start({ TELEMETRY_MQTT_MAX_PENDING_PER_CONNECTION: String(LIMIT) }, tls);
      const traceOf = tracePipeline();
      const port = { mqtt: broker?.tcpPort, ws: broker?.wsPort, mqtts: broker?.tlsPort }[scheme];
      const client = await connect(alice, { url: `${scheme}://127.0.0.1:${port}`, ...(tls && { ca: tls.cert }) });
      const other = await connect(bob);
      const messages = await Promise.all(seqs.map((seq) => reading(seq)));
      store.hold();
      let acked = 0;
      const acks: Promise<void>[] = [];
      for (const [seq, message] of messages.entries()) {
        // Half QoS 0 (nothing to wait for at the device), then half QoS 1.
        if (seq < FLOOD / 2) client.publish(messagesTopic(alice.id), message, { qos: 0 });
        else acks.push(client.publishAsync(messagesTopic(alice.id), message, { qos: 1 }).then(() => void acked++));
      }
      await until(() => broker?.pausedConnections === 1 && traceOf(alice.id).inside === LIMIT);

      // Another connection is still read and served: its SUBACK comes back, its message enters the pipeline.
      await watch(other, bob);
      const bobAck = other.publishAsync(messagesTopic(bob.id), await reading(1, bob), { qos: 1 });
      await until(() => traceOf(bob.id).inside === 1);
      expect(traceOf(alice.id).entered).toHaveLength(LIMIT);
      expect(broker?.pausedConnections).toBe(1);
      expect(await node.metrics.registry.getSingleMetricAsString('telemetry_mqtt_connections_paused')).toMatch(/ 1$/m);
      expect(acked).toBe(0);

      store.release();
      await Promise.all([...acks, bobAck]);
      await until(() => traceOf(alice.id).accepted.length === FLOOD);
      expect(acked).toBe(FLOOD / 2);
      expect(traceOf(alice.id).most).toBe(LIMIT);
      expect(traceOf(alice.id).entered).toEqual(seqs);
      expect(traceOf(alice.id).accepted.toSorted((a, b) => a - b)).toEqual(seqs);
      expect(await stored(alice.id, 2 * FLOOD)).toHaveLength(FLOOD);
      expect(await stored(bob.id)).toHaveLength(1);
      expect(broker?.pausedConnections).toBe(0);
      expect(await node.metrics.registry.getSingleMetricAsString('telemetry_mqtt_connections_paused')).toMatch(/ 0$/m);
    },
  );

  it('closes a paused connection with a notice when its token expires', async () => {
    await start({ TELEMETRY_MQTT_MAX_PENDING_PER_CONNECTION: String(LIMIT) });
    const traceOf = tracePipeline();
    const messages = await Promise.all(seqs.map((seq) => reading(seq)));
    const client = await connect(alice, { token: await token(alice, 2) });
    const seen = await watch(client, alice);
    store.hold();
    let acked = 0;
    for (const message of messages) {
      client.publish(messagesTopic(alice.id), message, { qos: 1 }, (error) => {
        if (error === undefined) acked++;
      });
    }
    await until(() => broker?.pausedConnections === 1);
    await until(() => seen.events.includes('notice'), 6000);
    const noticed = Date.now();
    await until(() => seen.events.includes('close') && broker?.pausedConnections === 0);
    // The node reads on and discards what the device still sends, so both sides
    // close long before the node would give up waiting and destroy the socket.
    expect(Date.now() - noticed).toBeLessThan(CLOSE_GRACE_MS / 2);
    expect(seen.events).toEqual(['notice', 'close']);
    expect(seen.notices[0]).toMatchObject({ code: 'ERR_TOKEN_EXPIRED' });
    expect(acked).toBe(0);
    expect(traceOf(alice.id).entered).toHaveLength(LIMIT);
  });
});
