import type { Duplex } from 'node:stream';
import { Aedes, type AuthErrorCode, type Client, type PublishPacket, type Subscription } from 'aedes';
import { ConfigSchema } from '../../src/config/config-schema.js';
import { asTelemetryError, connackReturnCode, type ErrorCode, TelemetryError } from '../../src/errors.js';
import type { DeviceKeySource } from '../../src/protocol/trusted-key.js';
import type { IngestNode } from '../build-ingest.js';
import { ConnectionBackpressure } from './connection-backpressure.js';
import { authenticateDevice } from './device-auth.js';
import { DeviceSession } from './device-session.js';
import { errorNotice } from './error-notice.js';
import { openMqttListeners } from './mqtt-listeners.js';
import { MQTT_PACKET_OVERHEAD_BYTES, MqttPacketSizeGuard } from './packet-size-guard.js';
import { mayDeliverTo, mayPublishTo, maySubscribeTo } from './topic-rules.js';

/** After this many rejected messages in a row, the node closes the connection. */
export const MAX_CONSECUTIVE_REJECTIONS = 10;

/** Default of {@link EmbeddedBrokerOptions.maxPendingPerConnection}: the default of TELEMETRY_MQTT_MAX_PENDING_PER_CONNECTION. */
export const DEFAULT_MAX_PENDING_PER_CONNECTION: number = ConfigSchema.properties.mqttMaxPendingPerConnection.default;

/** What the broker logs: the device id and the error code, never a token or payload. */
export interface BrokerLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

export interface EmbeddedBrokerOptions {
  readonly keys: DeviceKeySource;
  readonly host: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  readonly tls?: { readonly port: number; readonly cert: string | Buffer; readonly key: string | Buffer };
  readonly wsPort?: number;
  readonly tokenAudience: string;
  readonly maxTokenLifetimeSeconds: number;
  readonly clockSkewSeconds: number;
  /**
   * Publishes of one connection in the pipeline at once, at most; at the limit
   * the node stops reading from that connection until one is done.
   * Default {@link DEFAULT_MAX_PENDING_PER_CONNECTION}.
   */
  readonly maxPendingPerConnection?: number;
  readonly logger?: BrokerLogger;
}

/** A running embedded broker: the ports it listens on, and how to stop it. */
export interface EmbeddedBroker {
  readonly tcpPort: number;
  readonly tlsPort?: number;
  readonly wsPort?: number;
  /** Connections the node has stopped reading from because `maxPendingPerConnection` of their publishes are in the pipeline. */
  readonly pausedConnections: number;
  /** Stops accepting connections, lets in-flight publishes settle (and be acknowledged), then closes every client. */
  close(): Promise<void>;
}

type AedesCallback = (error?: Error | null) => void;

/** What a handled publish is left holding: shared, since no byte of an empty buffer can be written. */
const EMPTY_PAYLOAD = Buffer.alloc(0);

/**
 * Starts the MQTT broker devices connect to (docs/PROTOCOL.md §MQTT): each
 * CONNECT is authenticated by a device-signed connection token, each PUBLISH
 * goes through the node's pipeline and is acknowledged only once stored.
 *
 * @example
 * const broker = await startEmbeddedBroker(node, { keys, host: '0.0.0.0', port: 1883, ...tokenSettings });
 * process.once('SIGTERM', () => broker.close());
 */
export async function startEmbeddedBroker(node: IngestNode, options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const sessions = new WeakMap<Client, DeviceSession>();
  const backpressure = new WeakMap<Client, ConnectionBackpressure>();
  const maxPending = options.maxPendingPerConnection ?? DEFAULT_MAX_PENDING_PER_CONNECTION;
  const connections = new Map<Duplex, Client>();
  // Publishes handed to the pipeline (running or waiting their turn) and not settled yet; close() waits for them.
  let inflight = 0;
  let allSettled: (() => void) | undefined;
  const settledOne = (): void => {
    if (--inflight === 0) allSettled?.();
  };
  let closing = false;
  const maxPacketBytes = node.limits.maxMessageBytes + MQTT_PACKET_OVERHEAD_BYTES;
  const count = (code: ErrorCode): void => node.metrics.rejected(code, { transport: 'mqtt' });
  const log = options.logger;

  const broker = new Aedes({
    // Client ids are prefixed with the (then verified) device id, so one device cannot take over another's session.
    maxClientsIdLength: 256,
    preConnect(_client, packet, callback) {
      packet.clientId = `${packet.username ?? ''}:${packet.clientId}`;
      // The broker keeps no device state: every session is clean, and wills are dropped.
      packet.clean = true;
      packet.will = undefined;
      callback(null, true);
    },
    authenticate(client, username, password, callback) {
      const refuse = (error: TelemetryError): void => {
        count(error.code);
        log?.debug({ device: username, code: error.code }, 'mqtt connection refused');
        const returnCode = connackReturnCode(error.code) as AuthErrorCode;
        callback(Object.assign(new Error(error.code), { returnCode }), null);
      };
      if (closing || node.draining()) {
        return refuse(new TelemetryError('ERR_SHUTTING_DOWN', 'the node is shutting down'));
      }
      authenticateDevice(username, password, { ...options, now: node.now() }).then(
        (connection) => {
          if (client.closed) return callback(null, false);
          const session = new DeviceSession(broker, client, connection.device);
          sessions.set(client, session);
          node.metrics.mqttConnections.inc();
          client.conn.once('close', () => node.metrics.mqttConnections.dec());
          session.expireAt(connection.expiresAt, node.now(), () => {
            void session.close(errorNotice(new TelemetryError('ERR_TOKEN_EXPIRED', 'the connection token expired')));
          });
          callback(null, true);
        },
        (error: unknown) => refuse(asTelemetryError(error, 'ERR_INTERNAL')),
      );
    },
    authorizePublish(client, packet, callback) {
      const session = client === null ? undefined : sessions.get(client);
      if (session === undefined) return callback(new Error('publish from an unauthenticated client'));
      if (session.closing) return session.hold(callback);
      // [MQTT-3.3.1-5] would keep a retained message; the broker must never hold device data.
      packet.retain = false;
      if (!mayPublishTo(session.device, packet.topic)) {
        count('ERR_TOPIC_FORBIDDEN');
        session.hold(callback);
        const error = new TelemetryError('ERR_TOPIC_FORBIDDEN', 'a device publishes only to devices/{its id}/messages');
        void session.close(errorNotice(error, error.seq ?? null));
        return;
      }
      const pacing = backpressure.get(session.client);
      if (pacing === undefined) return callback(new Error('publish on a connection the broker did not accept'));
      inflight++;
      pacing.run(() => handlePublish(session, packet, callback));
    },
    authorizeSubscribe(client, subscription, callback) {
      const session = sessions.get(client);
      if (session !== undefined && maySubscribeTo(session.device, subscription.topic)) {
        const granted: Subscription = { ...subscription, qos: Math.min(subscription.qos, 1) as 0 | 1 };
        return callback(null, granted);
      }
      count('ERR_TOPIC_FORBIDDEN');
      log?.debug({ device: session?.device, code: 'ERR_TOPIC_FORBIDDEN' }, 'mqtt subscription refused');
      callback(null, null);
    },
    authorizeForward(client, packet) {
      const session = sessions.get(client);
      // aedes sets clientId on what a client published; the node's own notices have none.
      const from = (packet as { clientId?: string }).clientId;
      return session !== undefined && mayDeliverTo(session.device, packet.topic, from) ? packet : null;
    },
  });

  /** Runs one message through the pipeline; the aedes callback (PUBACK) runs only after it settled. */
  async function handlePublish(session: DeviceSession, packet: PublishPacket, callback: AedesCallback): Promise<void> {
    try {
      const payload = packet.payload;
      // Once handled, the routed copy carries nothing: device data never stays in the broker.
      packet.payload = EMPTY_PAYLOAD;
      // It may have waited its turn while the node began closing the connection.
      if (session.closing) return session.hold(callback);
      try {
        if (closing) {
          count('ERR_SHUTTING_DOWN');
          throw new TelemetryError('ERR_SHUTTING_DOWN', 'the node is shutting down', { retryAfter: 1 });
        }
        await node.pipeline.handle(payload, { transport: 'mqtt', expectedDevice: session.device });
        session.accepted();
        if (session.closing) session.hold(callback);
        else callback(null);
      } catch (caught) {
        const error = asTelemetryError(caught, 'ERR_INTERNAL');
        log?.debug({ device: session.device, code: error.code }, 'mqtt message rejected');
        const notice = errorNotice(error, error.seq ?? null);
        if (session.closing) return session.hold(callback);
        if (error.mqtt === 'reject') {
          // The message is consumed (resending cannot help): say why on the errors topic, then acknowledge it,
          // in that order on the wire, so a device has the notice before it forgets the message.
          const inARow = session.rejected();
          await session.notify(notice);
          if (session.closing) return session.hold(callback);
          callback(null);
          if (inARow >= MAX_CONSECUTIVE_REJECTIONS) void session.close();
          return;
        }
        // 'retry': no PUBACK, so the device resends after reconnecting [MQTT-4.4.0-1]; 'disconnect': never resend.
        session.hold(callback);
        await session.close(notice);
      }
    } finally {
      settledOne();
    }
  }

  function accept(conn: Duplex): void {
    if (closing) {
      conn.destroy();
      return;
    }
    const client = broker.handle(conn);
    const failed = (error: unknown): void => {
      log?.warn({ device: sessions.get(client)?.device, error: String(error) }, 'mqtt publish handling failed');
    };
    backpressure.set(client, new ConnectionBackpressure(client, maxPending, failed));
    connections.set(conn, client);
    conn.once('close', () => connections.delete(conn));
    // A passive 'data' listener sees each chunk aedes reads before it is parsed.
    // Added after aedes' 'readable' listener, so the stream stays in paused mode.
    const guard = new MqttPacketSizeGuard(maxPacketBytes);
    conn.on('data', (chunk: Buffer) => {
      const session = sessions.get(client);
      if (session?.closing || guard.feed(chunk) === undefined) return;
      count('ERR_MESSAGE_TOO_LARGE');
      log?.warn({ device: session?.device, code: 'ERR_MESSAGE_TOO_LARGE' }, 'mqtt packet over the size cap');
      if (session === undefined) {
        conn.destroy();
        return;
      }
      const error = new TelemetryError(
        'ERR_MESSAGE_TOO_LARGE',
        `an MQTT packet may hold at most ${maxPacketBytes} bytes`,
      );
      void session.close(errorNotice(error, error.seq ?? null));
    });
  }

  broker.on('clientError', (client, error) => {
    if (error.message !== 'connection closed') {
      log?.debug({ device: sessions.get(client)?.device, error: error.message }, 'mqtt client error');
    }
  });

  await broker.listen();
  let listeners: Awaited<ReturnType<typeof openMqttListeners>>;
  try {
    listeners = await openMqttListeners({ ...options, maxWsPayloadBytes: maxPacketBytes }, accept);
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }

  return {
    tcpPort: listeners.tcpPort,
    ...(listeners.tlsPort === undefined ? {} : { tlsPort: listeners.tlsPort }),
    ...(listeners.wsPort === undefined ? {} : { wsPort: listeners.wsPort }),
    get pausedConnections() {
      let paused = 0;
      for (const client of connections.values()) if (backpressure.get(client)?.paused === true) paused++;
      return paused;
    },
    async close() {
      if (closing) return;
      closing = true;
      const stopped = listeners.close();
      if (inflight > 0) await new Promise<void>((resolve) => (allSettled = resolve));
      await Promise.all(
        [...connections].map(async ([conn, client]) => {
          const session = sessions.get(client);
          if (session !== undefined) await session.close();
          else conn.destroy();
        }),
      );
      await stopped;
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
