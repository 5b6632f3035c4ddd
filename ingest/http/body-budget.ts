import type { FastifyReply, FastifyRequest } from 'fastify';
import { TelemetryError } from '../../src/errors.js';

/** Which share of the budget a request may use: batches leave a quarter to single messages. */
export type BodyKind = 'message' | 'batch';

/**
 * The node-wide budget for HTTP request bodies being received and parsed
 * before any signature in them is checked (docs/OPERATIONS.md, "Memory before
 * authentication"). A request reserves its declared length (or, without one,
 * its route's body limit) before a byte of its body is read, and gives it back
 * when its answer is sent or its connection closes. Batches may hold three
 * quarters of the budget, so a flood of them cannot shut single messages out.
 */
export class BodyBudget {
  readonly #maxBytes: number;
  #reserved = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes reserved now. */
  get reserved(): number {
    return this.#reserved;
  }

  /** Reserves `bytes` for a body of `kind`, or answers false when the budget (or the kind's share) is spent. */
  tryReserve(bytes: number, kind: BodyKind): boolean {
    const limit = kind === 'batch' ? (this.#maxBytes * 3) / 4 : this.#maxBytes;
    if (this.#reserved + bytes > limit) return false;
    this.#reserved += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#reserved -= bytes;
  }

  /**
   * An onRequest hook for a route whose bodies are at most `bodyLimit` bytes:
   * a request the budget has no room for is answered 503 ERR_OVERLOADED with
   * Retry-After and its connection closed, its body never read.
   */
  hook(kind: BodyKind, bodyLimit: number) {
    return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const declared = Number(request.headers['content-length']);
      // A declared length over the limit is refused by fastify (413) before reading; reserve only what can come.
      const bytes = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, bodyLimit) : bodyLimit;
      if (!this.tryReserve(bytes, kind)) {
        reply.header('connection', 'close');
        throw new TelemetryError('ERR_OVERLOADED', 'the node is receiving as many request bodies as it may', {
          retryAfter: 1,
        });
      }
      reply.raw.once('close', () => this.release(bytes));
    };
  }
}
