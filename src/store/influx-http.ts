import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type RequestOptions,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';
import { AbortError, HttpError, InfluxDB, RequestTimedOutError, type Transport } from '@influxdata/influxdb-client';
import { TelemetryError } from '../errors.js';

/** How to reach an InfluxDB-compatible HTTP API. */
export interface InfluxHttpOptions {
  /** Base URL, e.g. `http://127.0.0.1:8086`. */
  readonly url: string;
  /** Sent as `Authorization: Token <token>` (InfluxDB 2.x/3.x, or `user:password` on 1.8+). */
  readonly token?: string;
  /** Sent as HTTP basic auth when no token is given (InfluxDB 1.x). */
  readonly username?: string;
  readonly password?: string;
  /** Deadline for one request, from sending to the last byte of the answer. */
  readonly timeoutMs: number;
  /** How write bodies are sent; see {@link StoreCompression}. `none` when omitted. */
  readonly compression?: StoreCompression;
}

/**
 * `gzip` compresses write bodies over 1 kB: worth it when the store is across a slow or metered link (a cloud
 * service), at about 1 µs of node CPU per reading (bench/results, docs/PERFORMANCE.md). `none` sends them as
 * they are, for a store on the same host or network, where bandwidth is cheap and the CPU is what nodes cost.
 */
export type StoreCompression = 'none' | 'gzip';

// With `gzip`, the client compresses bodies larger than this many bytes (its own WriteApi default).
const GZIP_THRESHOLD = 1_000;

/** An answer's body is kept, for the error, up to this many characters (as the influxdb-client transport does). */
const ERROR_BODY_CHARS = 1_000;

const gzipAsync = promisify(gzip);
const EMPTY = Buffer.alloc(0);

/**
 * Requests to an InfluxDB-compatible server, with every failure turned into a TelemetryError by
 * {@link httpFailureToStoreError}. JSON queries go through the influxdb-client transport (it gunzips answers and
 * turns a refusal into its HttpError); writes are one plain `node:http` POST each, and text answers (exports, the
 * ping) one plain GET each, on keep-alive connections of this client's own, so that a GET can stop reading an
 * answer longer than its caller allows and close the connection (the transport can only abort through its signal,
 * which raised an uncaught AbortError when the answer had already arrived).
 *
 * Writes are not a WriteApi: a WriteApi buffers lines, retries in the background and, with `flush()`, reports
 * the fate of whatever was buffered, not of one batch. One POST is exactly one batch, so the promise settles
 * with that batch's own status code, nothing is retried behind the caller's back, and the caller (who knows
 * whether a device will resend) decides on retries. Nor do they go through the transport's `request`: what it
 * attaches to each request (a listener on the abort signal it never removes, its callback objects) kept about
 * 1.9 KB a write alive past a scavenge against 0.3 KB here, so a node writing a thousand times a second
 * promoted megabytes a second into the old generation, which every scavenge copied first; and it cost about
 * 10 % more CPU a write (docs/STORAGE.md, "Writes over HTTP"; `bench/store-write-gc.ts`).
 */
export class InfluxHttp {
  readonly #transport: Transport;
  readonly #options: InfluxHttpOptions;
  readonly #base: URL;
  readonly #agent: HttpAgent;
  readonly #auth: Readonly<Record<string, string>>;

  constructor(options: InfluxHttpOptions) {
    this.#options = options;
    this.#transport = new InfluxDB({ url: options.url, token: options.token, timeout: options.timeoutMs }).transport;
    this.#base = new URL(options.url);
    this.#agent =
      this.#base.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    const { token, username, password } = options;
    this.#auth =
      token !== undefined
        ? { authorization: `Token ${token}` }
        : username !== undefined
          ? { authorization: `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` }
          : {};
  }

  /** POSTs a line protocol body; resolves when the server answered 2xx. */
  async postLines(path: string, body: string): Promise<void> {
    const plain = Buffer.from(body, 'utf8');
    const gzipped = this.#options.compression === 'gzip' && plain.length > GZIP_THRESHOLD;
    try {
      await this.#post(path, gzipped ? await gzipAsync(plain) : plain, gzipped);
    } catch (error) {
      throw httpFailureToStoreError(error);
    }
  }

  /** Closes the connections of writes and text reads, idle or not: call it once none is under way. */
  close(): void {
    this.#agent.destroy();
  }

  /** GETs a JSON document (`undefined` for an empty answer). */
  async getJson(path: string): Promise<unknown> {
    const body = await this.#get(path, 'application/json');
    try {
      return body.length === 0 ? undefined : JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw httpFailureToStoreError(error);
    }
  }

  /**
   * GETs a text document (for JSON-lines answers, which are not one JSON value), on this client's own connections
   * as writes are (uncompressed: the answers are asked for across loopback or a local network).
   *
   * @param maxBytes Stop reading an answer longer than this, close its connection and reject with
   *   {@link AnswerTooLargeError} (a caller that sized its question from a guess asks again another way).
   */
  async getText(path: string, maxBytes = Number.POSITIVE_INFINITY): Promise<string> {
    try {
      return (await this.#exchange('GET', path, { accept: 'text/plain' }, undefined, maxBytes)).toString('utf8');
    } catch (error) {
      throw error instanceof AnswerTooLargeError ? error : httpFailureToStoreError(error);
    }
  }

  /** One POST of `payload`; see {@link InfluxHttp.#exchange}. */
  async #post(path: string, payload: Buffer, gzipped: boolean): Promise<void> {
    const headers = {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': payload.length,
      ...(gzipped ? { 'content-encoding': 'gzip' } : {}),
    };
    await this.#exchange('POST', path, headers, payload);
  }

  /**
   * One request on this client's keep-alive connections; resolves with the body once a 2xx answer has ended (a
   * POST's is read and dropped), rejects with the transport's HttpError for any other status (so one mapping serves
   * every path), with the socket's error, with a TimeoutError when the answer has not ended within `timeoutMs` of
   * sending, or with AnswerTooLargeError once a GET's answer passes `maxBytes` (its connection is then closed).
   */
  #exchange(
    method: 'GET' | 'POST',
    path: string,
    headers: OutgoingHttpHeaders,
    payload?: Buffer,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<Buffer> {
    const base = this.#base;
    const options: RequestOptions = {
      // protocol, hostname (an IPv6 literal without its brackets) and port, as node:http wants them.
      ...urlToHttpOptions(base),
      path: `${base.pathname.replace(/\/$/, '')}${path}`,
      method,
      agent: this.#agent,
      headers: { ...headers, ...this.#auth },
    };
    return new Promise<Buffer>((resolve, reject) => {
      let settled = false;
      const settle = (error: unknown, body?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (body === undefined) reject(error);
        else resolve(body);
      };
      const request = (base.protocol === 'https:' ? httpsRequest : httpRequest)(options, (answer) => {
        answer.on('error', settle);
        if ((answer.statusCode ?? 0) >= 300) {
          readError(answer).then(settle, settle);
          return;
        }
        if (method === 'POST') {
          answer.resume();
          answer.once('end', () => settle(undefined, EMPTY));
          return;
        }
        // Not asked for, but a proxy may compress anyway; the limit is on the decoded text.
        const gunzip = answer.headers['content-encoding'] === 'gzip' ? createGunzip() : undefined;
        const body = gunzip === undefined ? answer : answer.pipe(gunzip);
        body.on('error', settle);
        const chunks: Buffer[] = [];
        let bytes = 0;
        body.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes <= maxBytes) {
            chunks.push(chunk);
          } else if (!settled) {
            settle(new AnswerTooLargeError(maxBytes));
            gunzip?.destroy();
            request.destroy();
          }
        });
        // The chunks are joined once, at the end: joining them as they come copies with the square of the answer.
        body.once('end', () => settle(undefined, Buffer.concat(chunks)));
      });
      const deadline = setTimeout(() => {
        const late = new DOMException('store did not answer in time', 'TimeoutError');
        settle(late);
        request.destroy(late);
      }, this.#options.timeoutMs);
      request.on('error', settle);
      request.end(payload);
    });
  }

  /**
   * One GET through the transport's `send`, which decodes gzip and turns a status that is not 2xx into its
   * HttpError. Not its `request`: that joins the answer with `Buffer.concat([sofar, chunk])` for every chunk, a
   * copy that grows with the square of the answer (an 8.7 MB VictoriaMetrics export took 150–1,800 ms of CPU that
   * way against 50–130 ms gathered here, docs/STORAGE.md). The chunks are joined once, at the end.
   */
  #get(path: string, accept: string): Promise<Buffer> {
    const { timeoutMs } = this.#options;
    // The deadline is a timer of our own, cleared when the request ends. Not AbortSignal.timeout(): the client adds
    // an abort listener it never removes, holding the request's body and answer, and that signal lives on until its
    // timer fires, so every request's text stayed in memory for timeoutMs after it ended (a streamed query answer
    // raised the node's RSS by hundreds of MB, and writes held their bodies the same way).
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new DOMException('store did not answer in time', 'TimeoutError')),
      timeoutMs,
    );
    const headers = { accept, ...(this.#options.token === undefined ? this.#auth : {}) };
    return new Promise<Buffer>((resolve, reject) => {
      const chunks: Uint8Array[] = [];
      this.#transport.send(
        path,
        '',
        { method: 'GET', headers, signal: deadline.signal },
        {
          next(chunk) {
            chunks.push(chunk);
          },
          error(error) {
            clearTimeout(timer);
            reject(httpFailureToStoreError(error));
          },
          complete() {
            clearTimeout(timer);
            resolve(Buffer.concat(chunks));
          },
        },
      );
    });
  }
}

/**
 * A store's answer was longer than the caller said it could be (`InfluxHttp.getText`'s `maxBytes`), and was not
 * read to its end. Not a store fault: the caller sized its question from a guess and asks again another way.
 */
export class AnswerTooLargeError extends Error {
  readonly code = 'ERR_ANSWER_TOO_LARGE';

  constructor(maxBytes: number) {
    super(`the store's answer is longer than ${maxBytes} bytes`);
    this.name = 'AnswerTooLargeError';
  }
}

// Statuses that blame the node's configuration (token, credentials, database, bucket), not the batch.
const MISCONFIGURED = new Set([401, 403, 404]);

/**
 * Maps a failed request to a TelemetryError, by status code and error code, never by message text.
 * - 401, 403 and 404 mean the node is misconfigured, not that the readings are bad: ERR_STORE_UNAVAILABLE, so
 *   devices keep their readings and send them again.
 * - Other 4xx answers except 408 and 429 (400, 413, 422, ...) mean the server refused this batch as such:
 *   ERR_STORE_REJECTED.
 * - Everything else (408, 429, 5xx, timeouts, refused or reset connections) may succeed later:
 *   ERR_STORE_UNAVAILABLE, with the server's Retry-After, in seconds, when it sent one.
 */
export function httpFailureToStoreError(error: unknown): TelemetryError {
  if (error instanceof TelemetryError) return error;
  if (error instanceof HttpError) {
    const status = error.statusCode;
    if (MISCONFIGURED.has(status)) {
      return new TelemetryError(
        'ERR_STORE_UNAVAILABLE',
        `store refused the node with HTTP ${status}: check its credentials and database or bucket`,
        { cause: error },
      );
    }
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
      return new TelemetryError('ERR_STORE_REJECTED', `store refused the request with HTTP ${status}`, {
        cause: error,
      });
    }
    const retryAfter = parseRetryAfter(error.headers?.['retry-after']);
    return new TelemetryError('ERR_STORE_UNAVAILABLE', `store answered HTTP ${status}`, {
      cause: error,
      ...(retryAfter === undefined ? {} : { retryAfter }),
    });
  }
  if (error instanceof RequestTimedOutError || error instanceof AbortError || isTimeout(error)) {
    return new TelemetryError('ERR_STORE_UNAVAILABLE', 'store did not answer in time', { cause: error });
  }
  return new TelemetryError('ERR_STORE_UNAVAILABLE', 'store unreachable', { cause: error });
}

/**
 * Whether a failure may pass within seconds, so that retrying the same request soon is worth it: false for
 * ERR_STORE_REJECTED and for the 401, 403 and 404 answers of a misconfigured node (retryable for devices, since an
 * operator can fix them, but not by waiting a moment), true for other ERR_STORE_UNAVAILABLE failures.
 */
export function isTransientStoreError(error: TelemetryError): boolean {
  if (error.code !== 'ERR_STORE_UNAVAILABLE') return false;
  return !(error.cause instanceof HttpError && MISCONFIGURED.has(error.cause.statusCode));
}

function isTimeout(error: unknown): boolean {
  return error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError');
}

/** The transport's HttpError for an answer that is not 2xx, with the start of its body and its headers. */
async function readError(answer: IncomingMessage): Promise<HttpError> {
  let body = '';
  answer.setEncoding('utf8');
  for await (const chunk of answer) {
    if (body.length < ERROR_BODY_CHARS) body += chunk as string;
  }
  const header = answer.headers['x-influxdb-error'];
  if (body === '' && typeof header === 'string') body = header;
  const retryAfter = answer.headers['retry-after'];
  return new HttpError(
    answer.statusCode ?? 0,
    answer.statusMessage,
    body.slice(0, ERROR_BODY_CHARS),
    retryAfter,
    answer.headers['content-type'],
    undefined,
    answer.headers,
  );
}

/** Parses a Retry-After header (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) into whole seconds. */
function parseRetryAfter(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number.parseInt(trimmed, 10);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1_000));
}
