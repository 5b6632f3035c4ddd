import { asTelemetryError, type ErrorCode, TelemetryError } from '../errors.js';
import type { VerifiedMessage } from '../protocol/message.js';
import { type VerifyMessageDeps, verifyMessage } from '../protocol/verify-message.js';
import type { BatchWriter } from './batch-writer.js';
import type { RateLimiter } from './rate-limiter.js';

/** The ways a message reaches a node. */
export type Transport = 'http' | 'mqtt';

export interface IngestContext {
  readonly transport: Transport;
  /** The device the transport has already authenticated (MQTT connection and topic). */
  readonly expectedDevice?: string;
}

/** Observes outcomes; metrics and logs hang here. */
export interface IngestEvents {
  accepted?(message: VerifiedMessage, context: IngestContext): void;
  rejected?(code: ErrorCode, context: IngestContext, device: string | undefined): void;
}

export interface IngestPipelineDeps extends VerifyMessageDeps {
  readonly writer: BatchWriter;
  readonly rateLimiter?: RateLimiter;
  readonly events?: IngestEvents;
  /** True once the node is draining: new messages are turned away. */
  readonly draining: () => boolean;
}

/**
 * The one path every message takes, whatever the transport:
 * refuse while draining → verify → rate-limit → batch into the store.
 * Resolves with the verified message once its readings are stored; rejects
 * with a TelemetryError that the transport maps through ERROR_POLICIES.
 */
export class IngestPipeline {
  readonly #deps: IngestPipelineDeps;

  constructor(deps: IngestPipelineDeps) {
    this.#deps = deps;
  }

  async handle(input: string | Uint8Array, context: IngestContext): Promise<VerifiedMessage> {
    let device: string | undefined;
    let seq: number | undefined;
    try {
      if (this.#deps.draining()) {
        throw new TelemetryError('ERR_SHUTTING_DOWN', 'the node is shutting down', { retryAfter: 1 });
      }
      const message = await verifyMessage(input, this.#deps, context);
      device = message.device;
      seq = message.seq;
      if (this.#deps.rateLimiter !== undefined && !this.#deps.rateLimiter.take(message.device, this.#deps.now())) {
        throw new TelemetryError('ERR_RATE_LIMITED', 'the device is over its rate limit', { retryAfter: 1 });
      }
      await this.#deps.writer.submit(message.readings);
      this.#deps.events?.accepted?.(message, context);
      return message;
    } catch (error) {
      const failure = asTelemetryError(error, 'ERR_INTERNAL');
      if (seq !== undefined) failure.seq = seq;
      this.#deps.events?.rejected?.(failure.code, context, device ?? context.expectedDevice);
      throw failure;
    }
  }
}
