import type { Reading } from '../../src/index.js';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';

/**
 * Wraps a real store so a test can hold writes at the door: while held, each
 * write waits until release() (or fails with fail()). Everything else passes through.
 */
export class HeldStore implements TelemetryStore {
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  #failure: unknown;
  writesStarted = 0;
  writesDone = 0;

  constructor(readonly inner: TelemetryStore) {}

  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  /** Every write from now on fails with `error` until heal(). */
  fail(error: unknown): void {
    this.#failure = error;
  }

  heal(): void {
    this.#failure = undefined;
  }

  async write(readings: readonly Reading[]): Promise<void> {
    this.writesStarted++;
    if (this.#gate !== undefined) await this.#gate;
    if (this.#failure !== undefined) throw this.#failure;
    await this.inner.write(readings);
    this.writesDone++;
  }

  queryReadings: TelemetryStore['queryReadings'] = (q) => this.inner.queryReadings(q);
  queryWindows: TelemetryStore['queryWindows'] = (q) => this.inner.queryWindows(q);
  queryLatest: TelemetryStore['queryLatest'] = (q) => this.inner.queryLatest(q);
  listSeries: TelemetryStore['listSeries'] = () => this.inner.listSeries();
  ping: TelemetryStore['ping'] = async () => {
    if (this.#failure !== undefined) throw this.#failure;
    return this.inner.ping();
  };
  close: TelemetryStore['close'] = () => this.inner.close();
}
