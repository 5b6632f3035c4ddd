import type { SendOutcome } from './device-link.js';
import type { HttpIngestClient } from './http-ingest-client.js';

export interface GatewayBatcherOptions {
  /** Most messages in one batch request (the node takes up to 1000). */
  readonly maxMessages: number;
  /** How long the first message of a batch waits for others, ms. */
  readonly lingerMs: number;
}

interface Queued {
  readonly jws: string;
  readonly cut: boolean;
  readonly settle: (outcome: SendOutcome) => void;
}

/**
 * A gateway uploading for many devices: collects their messages and posts
 * them together to POST /v1/messages/batch, handing each device its own result.
 */
export class GatewayBatcher {
  readonly #client: HttpIngestClient;
  readonly #options: GatewayBatcherOptions;
  #queue: Queued[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(client: HttpIngestClient, options: GatewayBatcherOptions) {
    this.#client = client;
    this.#options = options;
  }

  /** Queues one message; resolves with its own outcome once its batch is answered. `cut` cuts its batch's request. */
  submit(jws: string, cut = false): Promise<SendOutcome> {
    return new Promise((settle) => {
      this.#queue.push({ jws, cut, settle });
      if (this.#queue.length >= this.#options.maxMessages) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#options.lingerMs);
    });
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#options.maxMessages);
      const cut = batch.some((q) => q.cut);
      void this.#client
        .sendBatch(
          batch.map((q) => q.jws),
          cut,
        )
        .then((outcomes) => {
          batch.forEach((queued, i) => {
            queued.settle(outcomes[i] ?? { kind: 'retry', code: 'SIM_NO_ANSWER' });
          });
        });
    }
  }
}
