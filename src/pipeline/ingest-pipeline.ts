import { asTelemetryError, type ErrorCode, TelemetryError } from '../errors.js';
import type { VerifiedMessage } from '../protocol/message.js';
import {
  type AuthenticatedMessage,
  authenticatedSeq,
  authenticateMessage,
  checkMessage,
  type VerifyMessageDeps,
} from '../protocol/verify-message.js';
import type { BatchWriter } from './batch-writer.js';
import type { RateLimiter } from './rate-limiter.js';

/** The ways a message reaches a node. */
type Transport = 'http' | 'mqtt';

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
 * What became of one message: stored, or turned away with an error. `seq` is
 * the message's own, known once its payload was authenticated: it travels
 * beside the error so a device can be told which message failed.
 */
export type IngestOutcome =
  | { readonly ok: true; readonly message: VerifiedMessage }
  | {
      readonly ok: false;
      readonly error: TelemetryError;
      readonly seq: number | undefined;
      /** The device, once its signature verified or its transport authenticated it (for logs). */
      readonly device: string | undefined;
    };

/**
 * The one path every message takes, whatever the transport:
 * refuse while draining → verify → rate-limit → batch into the store.
 * Resolves once the readings are stored, or with the TelemetryError that the
 * transport maps (ERROR_POLICIES for HTTP, ingest/mqtt/mqtt-codes.ts for MQTT);
 * it never rejects.
 */
export class IngestPipeline {
  readonly #deps: IngestPipelineDeps;

  constructor(deps: IngestPipelineDeps) {
    this.#deps = deps;
  }

  async handle(input: string | Uint8Array, context: IngestContext): Promise<IngestOutcome> {
    let authenticated: AuthenticatedMessage | undefined;
    let device: string | undefined;
    try {
      if (this.#deps.draining()) {
        throw new TelemetryError('ERR_SHUTTING_DOWN', 'the node is shutting down', { retryAfter: 1 });
      }
      authenticated = await authenticateMessage(input, this.#deps);
      const message = checkMessage(authenticated, this.#deps, context);
      device = message.device;
      if (this.#deps.rateLimiter !== undefined && !this.#deps.rateLimiter.take(message.device, this.#deps.now())) {
        throw new TelemetryError('ERR_RATE_LIMITED', 'the device is over its rate limit', { retryAfter: 1 });
      }
      await this.#deps.writer.submit(message.readings);
      this.#deps.events?.accepted?.(message, context);
      return { ok: true, message };
    } catch (caught) {
      const error = asTelemetryError(caught, 'ERR_INTERNAL');
      // Once the signature verified, the key says which device sent it, even if the payload then fails.
      const who = device ?? authenticated?.key.device ?? context.expectedDevice;
      this.#deps.events?.rejected?.(error.code, context, who);
      const seq = authenticated === undefined ? undefined : authenticatedSeq(authenticated);
      return { ok: false, error, seq, device: who };
    }
  }
}
