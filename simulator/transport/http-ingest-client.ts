import { Agent, request } from 'node:http';
import { outcomeOfBatchResult, outcomeOfResponse } from '../../src/index.js';
import type { SendOutcome } from './device-link.js';

export interface HttpIngestClientOptions {
  /** The node's base URL, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  /** Connections kept open to the node (keep-alive pool). */
  readonly connections: number;
  /** How long to wait for an answer before counting the attempt as unknown. */
  readonly timeoutMs: number;
}

interface Answer {
  readonly status: number;
  readonly retryAfter: string | string[] | undefined;
  readonly body: unknown;
}

/** Why a request was cut on purpose (`--drop-share`): the simulator destroyed its socket. */
const CUT_CODE = 'SIM_CONNECTION_CUT';

/** No answer: the outcome is unknown, so the message is sent again (docs/PROTOCOL.md §9.3, §8). */
const noAnswer = (code: string): SendOutcome => ({ kind: 'retry', code });

/**
 * The HTTP side of a fleet: a pool of keep-alive connections to one node
 * shared by every device, for single messages and gateway batches.
 */
export class HttpIngestClient {
  readonly #agent: Agent;
  readonly #url: URL;
  readonly #timeoutMs: number;

  constructor(options: HttpIngestClientOptions) {
    this.#url = new URL(options.url);
    this.#timeoutMs = options.timeoutMs;
    this.#agent = new Agent({ keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections });
  }

  /** POST /v1/messages with one message; with `cut`, its socket is destroyed once the request is sent. */
  async sendMessage(jws: string, cut = false): Promise<SendOutcome> {
    try {
      const answer = await this.#post('/v1/messages', 'application/jose', jws, cut);
      return outcomeOfResponse(answer.status, answer.retryAfter, answer.body);
    } catch (error) {
      return noAnswer(failureCode(error));
    }
  }

  /** POST /v1/messages/batch; one outcome per message, in order. With `cut`, as for sendMessage. */
  async sendBatch(messages: readonly string[], cut = false): Promise<SendOutcome[]> {
    try {
      const answer = await this.#post('/v1/messages/batch', 'application/json', JSON.stringify({ messages }), cut);
      const results = (answer.body as { results?: unknown } | null)?.results;
      if (answer.status === 200 && Array.isArray(results) && results.length === messages.length) {
        return results.map(outcomeOfBatchResult);
      }
      const outcome = outcomeOfResponse(answer.status === 200 ? 502 : answer.status, answer.retryAfter, answer.body);
      return messages.map(() => outcome);
    } catch (error) {
      return messages.map(() => noAnswer(failureCode(error)));
    }
  }

  close(): void {
    this.#agent.destroy();
  }

  /**
   * Posts `body`. With `cut`, the keep-alive socket is destroyed as soon as the
   * request has been handed to it, before any answer: the node may or may not
   * store the message, the device cannot know and sends it again.
   */
  #post(path: string, contentType: string, body: string, cut: boolean): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.#url),
        {
          method: 'POST',
          agent: this.#agent,
          headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
          timeout: this.#timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            let parsed: unknown = null;
            try {
              parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              parsed = null;
            }
            resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body: parsed });
          });
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'SIM_TIMEOUT' })));
      req.on('error', reject);
      if (cut) req.once('finish', () => req.destroy(Object.assign(new Error('connection cut'), { code: CUT_CODE })));
      req.end(body);
    });
  }
}

/** A stable code for a request that got no answer (ECONNREFUSED, ECONNRESET, SIM_TIMEOUT, …). */
function failureCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'SIM_NO_ANSWER';
}
