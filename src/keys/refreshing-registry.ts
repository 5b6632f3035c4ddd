import { JwksRegistry } from './jwks-registry.js';
import { type DocumentLocation, loadJsonDocument } from './load-json-document.js';

export interface RefreshingRegistryOptions {
  readonly location: DocumentLocation;
  /** How often to reload, in milliseconds; 0 turns refreshing off. */
  readonly refreshMs: number;
  /** Whether every key must name its device in `sub` (device registries) or not (issuer key sets). */
  readonly requireSub: boolean;
  /** Called when a refresh fails; the previous snapshot stays in use. */
  readonly onRefreshError?: (error: unknown) => void;
  readonly load?: (location: DocumentLocation) => Promise<unknown>;
}

/**
 * A key registry that reloads its JWKS in the background. The first load must
 * succeed (a node with no keys is misconfigured); a later failed load keeps the
 * last good snapshot, so a registry server outage does not stop ingest, while
 * a successful load that drops a key revokes it.
 */
export class RefreshingRegistry {
  #current: JwksRegistry;
  #timer: NodeJS.Timeout | undefined;
  readonly #options: RefreshingRegistryOptions;

  private constructor(initial: JwksRegistry, options: RefreshingRegistryOptions) {
    this.#current = initial;
    this.#options = options;
    if (options.refreshMs > 0) {
      this.#timer = setInterval(() => {
        this.refresh().catch((error: unknown) => options.onRefreshError?.(error));
      }, options.refreshMs);
      this.#timer.unref();
    }
  }

  static async start(options: RefreshingRegistryOptions): Promise<RefreshingRegistry> {
    const registry = await RefreshingRegistry.#load(options);
    return new RefreshingRegistry(registry, options);
  }

  static async #load(options: RefreshingRegistryOptions): Promise<JwksRegistry> {
    const document = await (options.load ?? loadJsonDocument)(options.location);
    return JwksRegistry.fromDocument(document, options.location, { requireSub: options.requireSub });
  }

  /** The snapshot in use now. */
  get current(): JwksRegistry {
    return this.#current;
  }

  /** Reloads now; rejects (keeping the old snapshot) when the document cannot be loaded or is invalid. */
  async refresh(): Promise<void> {
    this.#current = await RefreshingRegistry.#load(this.#options);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
