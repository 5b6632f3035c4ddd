import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a broker that a test can break the way networks and kills do:
 * `cut()` destroys every connection through it at once, so nothing the client writes afterwards reaches the
 * broker; while `blocked`, new connections are refused, as if the client were gone; while `dropping`, what
 * the client sends is thrown away (its PUBACKs are lost) and what the broker sends still arrives.
 */
export class CuttingProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  blocked = false;
  dropping = false;
  /** `mqtt://127.0.0.1:<port>` once listening. */
  url = '';

  constructor(brokerPort: number) {
    this.#server = createServer((client) => {
      if (this.blocked) {
        client.destroy();
        return;
      }
      const broker = connect({ host: '127.0.0.1', port: brokerPort });
      client.on('data', (chunk) => {
        if (!this.dropping) broker.write(chunk);
      });
      broker.on('data', (chunk) => client.write(chunk));
      for (const [socket, other] of [
        [client, broker],
        [broker, client],
      ] as const) {
        this.#sockets.add(socket);
        socket.on('close', () => {
          this.#sockets.delete(socket);
          other.destroy();
        });
        socket.on('error', () => other.destroy());
      }
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    this.url = `mqtt://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  }

  /** Destroys every connection through the proxy, now. */
  cut(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
