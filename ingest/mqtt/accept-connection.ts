import type { Duplex } from 'node:stream';
import type { Aedes } from 'aedes';
import { TelemetryError } from '../../src/errors.js';
import type { BrokerContext } from './broker-context.js';
import { ConnectionBackpressure } from './connection-backpressure.js';
import { errorNotice } from './error-notice.js';
import { MqttPacketSizeGuard } from './packet-size-guard.js';

/**
 * Hands each new connection (TCP, TLS or WebSocket) to aedes, with its pacing
 * (at most `maxPending` publishes in the pipeline at once) and a packet size cap
 * enforced before aedes parses anything.
 */
export function acceptConnection(context: BrokerContext, broker: Aedes, maxPending: number): (conn: Duplex) => void {
  const { log, sessions, maxPacketBytes } = context;
  return (conn) => {
    if (context.closing) {
      conn.destroy();
      return;
    }
    const client = broker.handle(conn);
    const failed = (error: unknown): void => {
      log?.warn({ device: sessions.get(client)?.device, error: String(error) }, 'mqtt publish handling failed');
    };
    context.backpressure.set(client, new ConnectionBackpressure(client, maxPending, failed));
    context.connections.set(conn, client);
    conn.once('close', () => context.connections.delete(conn));
    // A passive 'data' listener sees each chunk aedes reads before it is parsed.
    // Added after aedes' 'readable' listener, so the stream stays in paused mode.
    const guard = new MqttPacketSizeGuard(maxPacketBytes);
    conn.on('data', (chunk: Buffer) => {
      const session = sessions.get(client);
      if (session?.closing || guard.feed(chunk) === undefined) return;
      context.count('ERR_MESSAGE_TOO_LARGE');
      log?.warn({ device: session?.device, code: 'ERR_MESSAGE_TOO_LARGE' }, 'mqtt packet over the size cap');
      if (session === undefined) {
        conn.destroy();
        return;
      }
      const error = new TelemetryError(
        'ERR_MESSAGE_TOO_LARGE',
        `an MQTT packet may hold at most ${maxPacketBytes} bytes`,
      );
      void session.close(errorNotice(error));
    });
  };
}
