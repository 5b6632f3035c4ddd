import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { outcomeOfBatchResult, outcomeOfResponse, type SendOutcome } from '../../src/index.js';

interface Answer {
  readonly status: number;
  readonly retryAfter: string | string[] | undefined;
  readonly body: unknown;
}

/** No answer (refused, reset, timed out): unknown, so the message is sent again (PROTOCOL.md §9.3, §8). */
const noAnswer = (error: unknown): SendOutcome => {
  const code = (error as { code?: unknown }).code;
  return { kind: 'retry', code: typeof code === 'string' ? code : 'NO_ANSWER' };
};

/** The bridge's keep-alive connection to the node: single messages and batches, each answer read as PROTOCOL.md §9.3 says. */
export class NodeClient {
  readonly #url: URL;
  readonly #timeoutMs: number;
  readonly #agent: HttpAgent;

  constructor(url: string, timeoutMs: number) {
    this.#url = new URL(url);
    this.#timeoutMs = timeoutMs;
    this.#agent =
      this.#url.protocol === 'https:'
        ? new HttpsAgent({ keepAlive: true, maxSockets: 2 })
        : new HttpAgent({ keepAlive: true, maxSockets: 2 });
  }

  /** POST /v1/messages; whether it was answered at all, and the outcome. */
  async sendMessage(jws: string): Promise<{ answered: boolean; outcome: SendOutcome }> {
    try {
      const answer = await this.#post('/v1/messages', 'application/jose', jws);
      return { answered: true, outcome: outcomeOfResponse(answer.status, answer.retryAfter, answer.body) };
    } catch (error) {
      return { answered: false, outcome: noAnswer(error) };
    }
  }

  /** POST /v1/messages/batch; one outcome per message, in order. */
  async sendBatch(messages: readonly string[]): Promise<{ answered: boolean; outcomes: SendOutcome[] }> {
    try {
      const answer = await this.#post('/v1/messages/batch', 'application/json', JSON.stringify({ messages }));
      const results = (answer.body as { results?: unknown } | null)?.results;
      if (answer.status === 200 && Array.isArray(results) && results.length === messages.length) {
        return { answered: true, outcomes: results.map(outcomeOfBatchResult) };
      }
      // A whole batch refused (503 while draining, 413) is each message's answer; a 200 of another shape is a fault.
      const outcome = outcomeOfResponse(answer.status === 200 ? 502 : answer.status, answer.retryAfter, answer.body);
      return { answered: true, outcomes: messages.map(() => outcome) };
    } catch (error) {
      return { answered: false, outcomes: messages.map(() => noAnswer(error)) };
    }
  }

  close(): void {
    this.#agent.destroy();
  }

  #post(path: string, contentType: string, body: string): Promise<Answer> {
    const request = this.#url.protocol === 'https:' ? httpsRequest : httpRequest;
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
      req.on('timeout', () => req.destroy(Object.assign(new Error('no answer in time'), { code: 'TIMEOUT' })));
      req.on('error', reject);
      req.end(body);
    });
  }
}
