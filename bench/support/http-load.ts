import autocannon from 'autocannon';
import { PoolCursor } from './bench-fleet.js';
import type { MeasuredServer } from './bench-node.js';
import { type LoadWindow, WindowMarks } from './load-window.js';

export interface HttpSaturationOptions {
  readonly server: MeasuredServer;
  /** Signed messages, sent in this order (wrapping around if the run outlasts them). */
  readonly messages: readonly string[];
  /** Keep-alive connections, one request in flight on each (no pipelining). */
  readonly connections: number;
  readonly warmupS: number;
  readonly measureS: number;
  /** Path of the ingest endpoint (the naive baseline uses the same). */
  readonly path?: string;
  /**
   * Messages per request: 1 (the default) sends each as `application/jose`; more send that many at once to
   * `POST /v1/messages/batch` as `{"messages": [...]}`, and a 200 acknowledges them all (the node's
   * rejected-messages counter tells whether any inside was refused).
   */
  readonly messagesPerRequest?: number;
}

/**
 * Drives `POST /v1/messages` with autocannon as fast as the server answers (closed loop:
 * `connections` requests in flight), each request the next signed message of the pool, and measures
 * a window after the warm-up.
 */
export async function saturateHttp(options: HttpSaturationOptions): Promise<LoadWindow> {
  const cursor = new PoolCursor(options.messages);
  const perRequest = options.messagesPerRequest ?? 1;
  const batched = perRequest > 1;
  const nextBody = (): string => {
    if (!batched) return cursor.next();
    const messages: string[] = [];
    for (let i = 0; i < perRequest; i++) messages.push(cursor.next());
    return JSON.stringify({ messages });
  };
  let acknowledged = 0;
  let failed = 0;
  const marks = new WindowMarks(options.server, () => ({ acknowledged, failed }));
  const tailS = 0.5;
  const run = new Promise<void>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${options.server.httpUrl}${options.path ?? (batched ? '/v1/messages/batch' : '/v1/messages')}`,
        connections: options.connections,
        pipelining: 1,
        duration: options.warmupS + options.measureS + tailS,
        timeout: 30,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': batched ? 'application/json' : 'application/jose' },
            setupRequest(request) {
              request.body = nextBody();
              return request;
            },
          },
        ],
      },
      (error) => (error === null ? resolve() : reject(error)),
    );
    instance.on('response', (_client: unknown, statusCode: number) => {
      if (statusCode === 200) acknowledged += perRequest;
      else failed++;
    });
  });
  await marks.schedule(options.warmupS, options.measureS);
  await run;
  return marks.result(cursor.wraps);
}
