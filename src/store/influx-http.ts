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

/**
 * Requests to an InfluxDB-compatible server through the influxdb-client transport, with every failure turned
 * into a TelemetryError by {@link httpFailureToStoreError}.
 *
 * Writes go through `transport.request` rather than a WriteApi: a WriteApi buffers lines, retries in the
 * background and, with `flush()`, reports the fate of whatever was buffered, not of one batch. One `request` is
 * one HTTP POST of exactly one batch, so the promise settles with that batch's own status code, nothing is
 * retried behind the caller's back, and the caller (who knows whether a device will resend) decides on retries.
 */
export class InfluxHttp {
  readonly #transport: Transport;
  readonly #options: InfluxHttpOptions;

  constructor(options: InfluxHttpOptions) {
    this.#options = options;
    this.#transport = new InfluxDB({ url: options.url, token: options.token, timeout: options.timeoutMs }).transport;
  }

  /** POSTs a line protocol body; resolves when the server answered 2xx. */
  async postLines(path: string, body: string): Promise<void> {
    await this.#send(path, body, 'POST', { 'content-type': 'text/plain; charset=utf-8' });
  }

  /** GETs a JSON document. */
  async getJson(path: string): Promise<unknown> {
    return this.#send(path, '', 'GET', { accept: 'application/json' });
  }

  /** GETs a text document (for JSON-lines answers, which the transport would otherwise parse as one JSON value). */
  async getText(path: string): Promise<string> {
    const answer: unknown = await this.#send(path, '', 'GET', { accept: 'text/plain' });
    return typeof answer === 'string' ? answer : '';
  }

  async #send(path: string, body: string, method: string, headers: Record<string, string>): Promise<unknown> {
    const { token, username, password, timeoutMs } = this.#options;
    const auth: Record<string, string> =
      token === undefined && username !== undefined
        ? { authorization: `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}` }
        : {};
    // The deadline is a timer of our own, cleared when the request ends. Not AbortSignal.timeout(): the client adds
    // an abort listener it never removes, holding the request's body and answer, and that signal lives on until its
    // timer fires, so every request's text stayed in memory for timeoutMs after it ended (a streamed query answer
    // raised the node's RSS by hundreds of MB, and writes held their bodies the same way).
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new DOMException('store did not answer in time', 'TimeoutError')),
      timeoutMs,
    );
    try {
      const answer: unknown = await this.#transport.request(path, body, {
        method,
        headers: { ...headers, ...auth },
        ...(this.#options.compression === 'gzip' ? { gzipThreshold: GZIP_THRESHOLD } : {}),
        signal: deadline.signal,
      });
      return answer;
    } catch (error) {
      throw httpFailureToStoreError(error);
    } finally {
      clearTimeout(timer);
    }
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
