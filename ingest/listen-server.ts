import type { Server as HttpServer } from 'node:http';
import type { Server as NetServer } from 'node:net';

/** Starts `server` on `host:port` (0 picks a free port); resolves with the port it listens on, rejects if it cannot. */
export function listenServer(server: NetServer | HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

/** Stops `server` from accepting connections; resolves once it is closed (at once when it never listened). */
export function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
