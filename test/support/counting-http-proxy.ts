import { createServer, request, type Server } from 'node:http';

/**
 * An HTTP proxy on 127.0.0.1 in front of a server (a store), counting the requests it forwards by path, so a test
 * can tell how many questions a client asked: a server's own request counters may be updated after it answers.
 */
export class CountingHttpProxy {
  readonly #server: Server;
  readonly #counts = new Map<string, number>();
  /** `http://127.0.0.1:<port>` once listening. */
  url = '';

  constructor(target: string) {
    const { hostname, port } = new URL(target);
    this.#server = createServer((incoming, outgoing) => {
      const path = new URL(incoming.url ?? '/', 'http://proxy').pathname;
      this.#counts.set(path, (this.#counts.get(path) ?? 0) + 1);
      const forwarded = request(
        { hostname, port, path: incoming.url, method: incoming.method, headers: incoming.headers },
        (answer) => {
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forwarded.on('error', () => outgoing.destroy());
      outgoing.on('close', () => forwarded.destroy());
      incoming.pipe(forwarded);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  }

  /** Requests forwarded so far to `path` (e.g. `/api/v1/export`). */
  requests(path: string): number {
    return this.#counts.get(path) ?? 0;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
