import { errorField, type NodeLog } from './node-log.js';

/**
 * Whether the store answers, as the node last saw it (a write, or a readiness
 * ping), logged once per change: a warning with the error when it stops
 * answering, and a line when it answers again, saying for how long it did not.
 * A node that is never asked anything learns nothing, and logs nothing.
 */
export class StoreHealth {
  readonly #log: NodeLog | undefined;
  readonly #store: string;
  readonly #now: () => number;
  #downSince: number | undefined;

  constructor(options: { log: NodeLog | undefined; store: string; now: () => number }) {
    this.#log = options.log;
    this.#store = options.store;
    this.#now = options.now;
  }

  /** Whether the store failed its last write or ping. */
  get unreachable(): boolean {
    return this.#downSince !== undefined;
  }

  /** The store took a write or answered a ping. */
  reachable(): void {
    if (this.#downSince === undefined) return;
    const downSeconds = Math.round((this.#now() - this.#downSince) / 1000);
    this.#downSince = undefined;
    this.#log?.info({ store: this.#store, downSeconds }, 'store reachable again');
  }

  /** A write or a ping failed because the store did not answer (not because it refused the readings). */
  failed(error: unknown): void {
    if (this.#downSince !== undefined) return;
    this.#downSince = this.#now();
    this.#log?.warn({ store: this.#store, error: errorField(error) }, 'store unreachable');
  }
}
