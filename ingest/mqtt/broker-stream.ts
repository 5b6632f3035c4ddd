import { connect as netConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { createWebSocketStream, WebSocket } from 'ws';

/** Default ports of the URL schemes an external broker may be reached at. */
const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  'mqtt:': 1883,
  'tcp:': 1883,
  'mqtts:': 8883,
  'ssl:': 8883,
  'ws:': 80,
  'wss:': 443,
};

/**
 * Opens the byte stream to an external broker that `url` names: TCP for
 * `mqtt://` (`tcp://`), TLS for `mqtts://` (`ssl://`), and a WebSocket with the
 * `mqtt` subprotocol for `ws://` and `wss://`. Resolves once the stream is
 * connected; rejects with the socket's error (or after `timeoutMs`).
 *
 * @example
 * const stream = await openBrokerStream('mqtt://127.0.0.1:1883', 10_000);
 */
export function openBrokerStream(url: string, timeoutMs: number): Promise<Duplex> {
  const target = new URL(url);
  const port = target.port === '' ? DEFAULT_PORTS[target.protocol] : Number(target.port);
  if (port === undefined) return Promise.reject(new TypeError(`unsupported broker URL scheme ${target.protocol}`));
  // URL keeps the brackets of an IPv6 literal; sockets want the bare address.
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise<Duplex>((resolve, reject) => {
    let stream: Duplex;
    let ready = 'connect';
    if (target.protocol === 'mqtts:' || target.protocol === 'ssl:') {
      stream = tlsConnect({ host, port, servername: host });
      ready = 'secureConnect';
    } else if (target.protocol === 'ws:' || target.protocol === 'wss:') {
      const socket = new WebSocket(url, 'mqtt');
      stream = createWebSocketStream(socket);
      socket.once('open', () => stream.emit('ready-to-use'));
      ready = 'ready-to-use';
    } else stream = netConnect({ host, port });
    const timer = setTimeout(
      () => fail(new Error(`no connection to ${target.host} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (error: Error): void => {
      clearTimeout(timer);
      stream.destroy();
      reject(error);
    };
    stream.once('error', fail);
    stream.once(ready, () => {
      clearTimeout(timer);
      stream.off('error', fail);
      resolve(stream);
    });
  });
}
