import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { listenAs } from '../listen-failure.js';
import { closeServer, listenServer } from '../listen-server.js';

/** Where the embedded broker listens; a port of 0 picks a free one. */
export interface MqttListenOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: { readonly port: number; readonly cert: string | Buffer; readonly key: string | Buffer };
  readonly wsPort?: number;
  /** Largest WebSocket message accepted, in bytes. */
  readonly maxWsPayloadBytes: number;
}

/** The listening sockets of an embedded broker. */
export interface MqttListeners {
  readonly tcpPort: number;
  readonly tlsPort?: number;
  readonly wsPort?: number;
  /** Stops accepting connections; resolves once every listener has closed (open connections are the caller's). */
  close(): Promise<void>;
}

/**
 * Opens the broker's listeners — MQTT over TCP, over TLS, and over WebSocket
 * (subprotocol `mqtt`) — and hands each accepted connection, as a byte
 * stream, to `accept`. A listener that cannot listen rejects with a
 * ListenFailure naming it.
 */
export async function openMqttListeners(
  options: MqttListenOptions,
  accept: (conn: Duplex) => void,
): Promise<MqttListeners> {
  const servers: (NetServer | HttpServer)[] = [];
  const closers: (() => Promise<void>)[] = [];
  try {
    const tcp = createNetServer(accept);
    servers.push(tcp);
    const tcpPort = await listenAs('mqtt', options.host, options.port, () =>
      listenServer(tcp, options.host, options.port),
    );
    let tlsPort: number | undefined;
    if (options.tls !== undefined) {
      const tls = createTlsServer({ cert: options.tls.cert, key: options.tls.key }, accept);
      servers.push(tls);
      const { port } = options.tls;
      tlsPort = await listenAs('mqtt-tls', options.host, port, () => listenServer(tls, options.host, port));
    }
    let wsPort: number | undefined;
    if (options.wsPort !== undefined) {
      const http = createHttpServer((_request, response) => {
        response.writeHead(426, { connection: 'close' }).end();
      });
      servers.push(http);
      const wss = new WebSocketServer({ server: http, maxPayload: options.maxWsPayloadBytes });
      wss.on('connection', (socket) => accept(createWebSocketStream(socket)));
      // ws re-emits the HTTP server's errors (a port in use) on wss; listenServer below already rejects with them.
      wss.on('error', () => undefined);
      closers.push(() => new Promise((resolve) => wss.close(() => resolve())));
      const port = options.wsPort;
      wsPort = await listenAs('mqtt-ws', options.host, port, () => listenServer(http, options.host, port));
    }
    return {
      tcpPort,
      ...(tlsPort === undefined ? {} : { tlsPort }),
      ...(wsPort === undefined ? {} : { wsPort }),
      async close() {
        await Promise.all([...closers.map((close) => close()), ...servers.map(closeServer)]);
      },
    };
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    throw error;
  }
}
