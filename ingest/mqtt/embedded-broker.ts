import { Aedes } from 'aedes';
import { ConfigSchema } from '../../src/config/config-schema.js';
import type { TransportDeps } from '../transport-deps.js';
import { acceptConnection } from './accept-connection.js';
import { BrokerContext, type BrokerLogger, type ConnectionTokenRules } from './broker-context.js';
import { authenticateHook, preConnect } from './connect-hooks.js';
import { openMqttListeners } from './mqtt-listeners.js';
import { MQTT_PACKET_OVERHEAD_BYTES } from './packet-size-guard.js';
import { authorizePublishHook } from './publish-hooks.js';
import { authorizeForwardHook, authorizeSubscribeHook } from './subscribe-hooks.js';

/** Default of {@link EmbeddedBrokerOptions.maxPendingPerConnection}: the default of TELEMETRY_MQTT_MAX_PENDING_PER_CONNECTION. */
const DEFAULT_MAX_PENDING_PER_CONNECTION: number = ConfigSchema.properties.mqttMaxPendingPerConnection.default;

export type { BrokerLogger } from './broker-context.js';

export interface EmbeddedBrokerOptions extends ConnectionTokenRules {
  readonly host: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  readonly tls?: { readonly port: number; readonly cert: string | Buffer; readonly key: string | Buffer };
  readonly wsPort?: number;
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

/**
 * Starts the MQTT broker devices connect to (docs/PROTOCOL.md §10.1): each
 * CONNECT is authenticated by a device-signed connection token, each PUBLISH
 * goes through the node's pipeline and is acknowledged only once stored. The
 * aedes hooks live by concern: connect-hooks, publish-hooks, subscribe-hooks,
 * and accept-connection for pacing and the packet size cap.
 *
 * @example
 * const broker = await startEmbeddedBroker(node, { keys, host: '0.0.0.0', port: 1883, ...tokenSettings });
 * process.once('SIGTERM', () => broker.close());
 */
export async function startEmbeddedBroker(
  deps: TransportDeps,
  options: EmbeddedBrokerOptions,
): Promise<EmbeddedBroker> {
  const maxPacketBytes = deps.limits.maxMessageBytes + MQTT_PACKET_OVERHEAD_BYTES;
  const context = new BrokerContext(deps, maxPacketBytes, options.logger);
  const broker: Aedes = new Aedes({
    maxClientsIdLength: 256,
    preConnect,
    authenticate: authenticateHook(context, options, () => broker),
    authorizePublish: authorizePublishHook(context),
    authorizeSubscribe: authorizeSubscribeHook(context),
    authorizeForward: authorizeForwardHook(context),
  });
  broker.on('clientError', (client, error) => {
    if (error.message !== 'connection closed') {
      context.log?.debug({ device: context.sessions.get(client)?.device, error: error.message }, 'mqtt client error');
    }
  });

  await broker.listen();
  const accept = acceptConnection(
    context,
    broker,
    options.maxPendingPerConnection ?? DEFAULT_MAX_PENDING_PER_CONNECTION,
  );
  let listeners: Awaited<ReturnType<typeof openMqttListeners>>;
  try {
    listeners = await openMqttListeners({ ...options, maxWsPayloadBytes: maxPacketBytes }, accept);
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }

  const pausedConnections = (): number => {
    let paused = 0;
    for (const client of context.connections.values()) if (context.backpressure.get(client)?.paused === true) paused++;
    return paused;
  };
  deps.metrics.observePausedConnections(pausedConnections);

  return {
    tcpPort: listeners.tcpPort,
    ...(listeners.tlsPort === undefined ? {} : { tlsPort: listeners.tlsPort }),
    ...(listeners.wsPort === undefined ? {} : { wsPort: listeners.wsPort }),
    get pausedConnections() {
      return pausedConnections();
    },
    async close() {
      if (context.closing) return;
      context.beginClosing();
      const stopped = listeners.close();
      await context.allSettled();
      await Promise.all(
        [...context.connections].map(async ([conn, client]) => {
          const session = context.sessions.get(client);
          if (session !== undefined) await session.close();
          else conn.destroy();
        }),
      );
      await stopped;
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}
