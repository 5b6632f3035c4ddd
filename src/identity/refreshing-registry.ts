import { stat } from 'node:fs/promises';
import { type DocumentLocation, isFetchableUrl } from '../config/document-location.js';
import { JwksRegistry } from './jwks-registry.js';
import { loadJsonDocument } from './load-json-document.js';

export interface RefreshingRegistryOptions {
  readonly location: DocumentLocation;
  /** How often to reload, in milliseconds; 0 turns refreshing off. */
  readonly refreshMs: number;
  /** Whether every key must name its device in `sub` (device registries) or not (issuer key sets). */
  readonly requireSub: boolean;
  /** Called when a refresh fails; the previous snapshot stays in use. */
  readonly onRefreshError?: (error: unknown) => void;
  /** Called when a background refresh succeeds (a log says when failures end). */
  readonly onRefreshed?: () => void;
  readonly load?: (location: DocumentLocation) => Promise<unknown>;
  /**
   * For a file: how often to look at its modification time, reloading at once when it
   * changed, in milliseconds (default 1000; 0 off). Cheap, so a key added with
   * `telemetry keys generate` works within a second instead of a refresh period.
   */
  readonly fileCheckMs?: number;
}

/**
 * A key registry that reloads its JWKS in the background. The first load must
 * succeed (a node with no keys is misconfigured); a later failed load keeps the
 * last good snapshot, so a registry server outage does not stop ingest, while
 * a successful load that drops a key revokes it.
 */
export class RefreshingRegistry {
  #current: JwksRegistry;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #options: RefreshingRegistryOptions;
  #fileVersion: string | undefined;
  /** The file check in progress or last made, shared by every caller within {@link RECHECK_MIN_MS}. */
  #recheck: { readonly at: number; readonly done: Promise<boolean> } | undefined;

  private constructor(initial: JwksRegistry, options: RefreshingRegistryOptions, fileVersion: string | undefined) {
    this.#current = initial;
    this.#options = options;
    this.#fileVersion = fileVersion;
    const reload = () =>
      this.refresh().then(
        () => options.onRefreshed?.(),
        (error: unknown) => options.onRefreshError?.(error),
      );
    if (options.refreshMs > 0) this.#every(options.refreshMs, reload);
    const fileCheckMs = options.fileCheckMs ?? 1000;
    if (fileVersion !== undefined && fileCheckMs > 0) {
      this.#every(fileCheckMs, async () => {
        const version = await fileVersionOf(options.location);
        if (version !== this.#fileVersion) await reload();
      });
    }
  }

  #every(ms: number, task: () => Promise<unknown>): void {
    const timer = setInterval(() => void task(), ms);
    timer.unref();
    this.#timers.push(timer);
  }

  static async start(options: RefreshingRegistryOptions): Promise<RefreshingRegistry> {
    const version = isFetchableUrl(options.location) ? undefined : await fileVersionOf(options.location);
    const registry = await RefreshingRegistry.#load(options);
    return new RefreshingRegistry(registry, options, version);
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
    const version = this.#fileVersion === undefined ? undefined : await fileVersionOf(this.#options.location);
    this.#current = await RefreshingRegistry.#load(this.#options);
    this.#fileVersion = version;
  }

  /**
   * For a file registry: looks at the file now and reloads it when it changed since the last load,
   * resolving whether it did. A node calls it when a kid is unknown, so a key added a moment ago is
   * found at once rather than at the next periodic check. Checks are shared: however many unknown kids
   * arrive, the file is looked at no more than once per {@link RECHECK_MIN_MS}.
   */
  recheckFile(now = Date.now()): Promise<boolean> {
    if (this.#fileVersion === undefined) return Promise.resolve(false);
    const last = this.#recheck;
    if (last !== undefined && now - last.at < RECHECK_MIN_MS) return last.done;
    const done = fileVersionOf(this.#options.location).then(async (version) => {
      if (version === this.#fileVersion) return false;
      await this.refresh();
      this.#options.onRefreshed?.();
      return true;
    });
    const settled = done.catch((error: unknown) => {
      this.#options.onRefreshError?.(error);
      return false;
    });
    this.#recheck = { at: now, done: settled };
    return settled;
  }

  close(): void {
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
  }
}

/** The least time between two on-demand looks at a registry file (each is a stat; a reload only when it changed). */
const RECHECK_MIN_MS = 200;

/** What changes when a file is rewritten (the registry CLI replaces it by rename). */
async function fileVersionOf(path: string): Promise<string | undefined> {
  return stat(path).then(
    (s) => `${s.ino}:${s.mtimeMs}:${s.size}`,
    () => undefined,
  );
}
