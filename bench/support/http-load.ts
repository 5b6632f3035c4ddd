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

/** Seconds of load after a window closes, so that it closes under load. */
export const TAIL_S = 0.5;

/** What {@link driveHttp} drives: the messages, where to and how hard, for how long. */
export interface HttpDriveOptions {
  /** The server's base URL (`http://127.0.0.1:port`). */
  readonly httpUrl: string;
  readonly messages: readonly string[];
  readonly connections: number;
  readonly durationS: number;
  readonly path?: string;
  readonly messagesPerRequest?: number;
}

/** A running {@link driveHttp}: its counts so far, and when it ends. */
export interface HttpDrive {
  counts(): { acknowledged: number; failed: number };
  readonly done: Promise<void>;
  /** Times the message pool ran out and started over. */
  wraps(): number;
}

/**
 * Drives `POST /v1/messages` with autocannon as fast as the server answers (closed loop:
 * `connections` requests in flight) for `durationS`, each request the next signed message of the pool,
 * counting the messages acknowledged (200) and the answers that were not.
 */
export function driveHttp(options: HttpDriveOptions): HttpDrive {
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
  const done = new Promise<void>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${options.httpUrl}${options.path ?? (batched ? '/v1/messages/batch' : '/v1/messages')}`,
        connections: options.connections,
        pipelining: 1,
        duration: options.durationS,
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
  return { counts: () => ({ acknowledged, failed }), done, wraps: () => cursor.wraps };
}

/** {@link driveHttp} from this process through a warm-up, a measured window and {@link TAIL_S} more. */
export async function saturateHttp(options: HttpSaturationOptions): Promise<LoadWindow> {
  const drive = driveHttp({
    httpUrl: options.server.httpUrl,
    messages: options.messages,
    connections: options.connections,
    durationS: options.warmupS + options.measureS + TAIL_S,
    ...(options.path === undefined ? {} : { path: options.path }),
    ...(options.messagesPerRequest === undefined ? {} : { messagesPerRequest: options.messagesPerRequest }),
  });
  const marks = new WindowMarks(options.server, drive.counts);
  await marks.schedule(options.warmupS, options.measureS);
  await drive.done;
  return marks.result(drive.wraps());
}
