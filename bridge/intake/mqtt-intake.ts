import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { BridgeMetrics } from '../bridge-metrics.js';
import type { MqttMapping } from '../mapping/mqtt-mapping.js';
import type { ReadingIntake } from '../reading-intake.js';
import { deliveryMark } from '../state/delivery-window.js';

/** How the bridge connects to the local broker. */
export interface MqttIntakeOptions {
  readonly url: string;
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
  readonly mappings: readonly MqttMapping[];
  /** How long after a refused subscription it is asked for again; default {@link RESUBSCRIBE_AFTER_MS}. */
  readonly resubscribeAfterMs?: number;
}

/**
 * Where the subscription on the local broker stands. Only `subscribed` means messages reach the bridge: a
 * new session that is `connected` but not yet subscribed gets nothing, and the broker may refuse a filter
 * (an ACL), which it says in its SUBACK.
 */
export type LocalBrokerState = 'subscribed' | 'subscribing' | 'refused' | 'disconnected';

/** The subscription on the local broker: where it stands, and how to end it. */
export interface MqttIntake {
  readonly state: () => LocalBrokerState;
  close(): Promise<void>;
}

/** A subscription the broker refused is asked for again this often while connected (an ACL may be mended). */
const RESUBSCRIBE_AFTER_MS = 30_000;
/** How long closing waits for the broker to answer what is in flight before it drops the connection. */
const CLOSE_WAIT_MS = 2_000;

/**
 * Subscribes to the mappings' topics on the local broker with a persistent
 * session (clean session off, QoS 1), and acknowledges each PUBLISH only once
 * its readings are in the backlog journal: a message the bridge had not
 * written down when it stopped is delivered again by the broker. One it had
 * written down but not yet acknowledged comes again too, with DUP set; the
 * journal remembers each message it wrote (packet id, topic, payload), and such
 * a redelivery is acknowledged without being taken twice (docs/BRIDGE.md,
 * "Redelivery"). Messages no mapping understands are skipped and counted,
 * never fatal.
 */
export function startMqttIntake(
  options: MqttIntakeOptions,
  intake: ReadingIntake,
  metrics: BridgeMetrics,
  logger: Logger,
): MqttIntake {
  const clientOptions: IClientOptions = {
    clientId: options.clientId,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 1_000,
    ...(options.username === '' ? {} : { username: options.username, password: options.password }),
  };
  const client: MqttClient = connect(options.url, clientOptions);
  const filters = [...new Set(options.mappings.flatMap((m) => m.filters))];
  /**
   * The message being taken. mqtt.js hands over one message at a time per
   * connection, but a message of a connection that has just dropped may still
   * be on its way to the journal when the new connection brings it again; its
   * redelivery must wait for it, or the window would not hold it yet.
   */
  let taking: Promise<void> = Promise.resolve();
  // PUBACK goes out when `done` is called: after the readings are written, not when the message arrives.
  client.handleMessage = (packet, done) => {
    const taken = taking.then(() => take(packet));
    taking = taken.catch(() => {});
    void taken.then(
      () => done(),
      (error: unknown) => {
        // Not acknowledged: the broker delivers it again after the reconnect.
        logger.error({ err: error, topic: packet.topic }, 'could not write a message to the backlog');
        client.end(true, () => client.reconnect());
      },
    );
  };
  async function take(packet: IPublishPacket): Promise<void> {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    // A QoS 0 delivery has no packet id and is never delivered again.
    const delivery =
      packet.messageId === undefined || packet.qos === 0
        ? undefined
        : deliveryMark(packet.messageId, packet.topic, payload);
    if (delivery !== undefined && intake.isRedelivery(delivery, packet.dup)) return;
    for (const mapping of options.mappings) {
      const mapped = mapping.map(packet.topic, payload);
      if (mapped === undefined) continue;
      metrics.inputs.inc({ source: 'mqtt', mapping: mapping.name });
      await intake.take(mapped, `mqtt ${mapping.name}`, delivery);
      return;
    }
  }
  let state: LocalBrokerState = 'disconnected';
  /** Counts connections, so the SUBACK of a connection that has since dropped changes nothing. */
  let connection = 0;
  let retry: NodeJS.Timeout | undefined;
  const resubscribeAfterMs = options.resubscribeAfterMs ?? RESUBSCRIBE_AFTER_MS;
  const subscribe = (): void => {
    const asked = connection;
    state = 'subscribing';
    // Subscribing again on a kept session is harmless, and needed when the broker lost it.
    client.subscribe(Object.fromEntries(filters.map((topic) => [topic, { qos: 1 as const }])), (error, _, suback) => {
      if (asked !== connection || !client.connected) return;
      if (error === null || error === undefined) {
        state = 'subscribed';
        logger.info({ filters }, 'subscribed on the local broker');
        return;
      }
      // SUBACK's codes follow the filters in the order they were asked for; 0x80 and above is a refusal.
      const refused = filters.filter((_filter, i) => {
        const code = suback?.granted[i];
        return typeof code !== 'number' || code >= 0x80;
      });
      state = 'refused';
      logger.error(
        { err: error, refused, retryInSeconds: resubscribeAfterMs / 1000 },
        'the local broker refused a subscription; nothing on those topics reaches the bridge',
      );
      retry = setTimeout(() => {
        if (asked === connection && client.connected) subscribe();
      }, resubscribeAfterMs);
      retry.unref();
    });
  };
  client.on('connect', (connack) => {
    connection += 1;
    clearTimeout(retry);
    logger.info({ url: options.url, sessionPresent: connack.sessionPresent }, 'connected to the local broker');
    subscribe();
  });
  client.on('close', () => {
    connection += 1;
    clearTimeout(retry);
    state = 'disconnected';
  });
  client.on('error', (error) => logger.warn({ err: error }, 'local broker connection error'));
  client.on('offline', () => logger.warn({ url: options.url }, 'local broker unreachable; reconnecting'));
  return {
    state: () => state,
    close: () =>
      new Promise<void>((resolve) => {
        clearTimeout(retry);
        // A clean DISCONNECT waits for every packet in flight, and a SUBSCRIBE the broker never answers would
        // hold the bridge's stop for good: after a while the connection is dropped instead (the session stays).
        // Not by a second end(true): mqtt.js answers an end() while one is under way at once, and does nothing.
        const force = setTimeout(() => {
          client.stream.destroy();
          resolve();
        }, CLOSE_WAIT_MS);
        client.end(false, {}, () => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
