import type { MeasuredServer } from './bench-node.js';

/** What one measurement window saw: the load generator's count of acknowledged messages and the server's CPU. */
export interface LoadWindow {
  /** Messages acknowledged (HTTP 200, MQTT PUBACK) within the window. */
  readonly acknowledged: number;
  /** Answers other than 200 (HTTP) within the window. */
  readonly failed: number;
  readonly seconds: number;
  /** CPU seconds the server process (all threads, all workers) used within the window. */
  readonly serverCpuSeconds: number;
  /** CPU seconds a separate store server (VictoriaMetrics) used within the window; 0 for the embedded store. */
  readonly storeCpuSeconds: number;
  /** CPU seconds the load generator (this process) used within the window. */
  readonly loadCpuSeconds: number;
  /** Times the message pool ran out and started over (a resent message is stored once: cheaper for the store). */
  readonly poolWraps: number;
}

/** Derived figures of a window. */
export interface WindowRates {
  readonly messagesPerSecond: number;
  /** Server CPU microseconds per acknowledged message. */
  readonly cpuUsPerMessage: number;
  /** Server plus store-server CPU microseconds per acknowledged message. */
  readonly cpuUsPerMessageWithStore: number;
  /** Cores the server used on average. */
  readonly serverCores: number;
  readonly loadCores: number;
}

export function windowRates(window: LoadWindow): WindowRates {
  return {
    messagesPerSecond: window.acknowledged / window.seconds,
    cpuUsPerMessage: window.acknowledged === 0 ? Number.NaN : (window.serverCpuSeconds * 1e6) / window.acknowledged,
    cpuUsPerMessageWithStore:
      window.acknowledged === 0
        ? Number.NaN
        : ((window.serverCpuSeconds + window.storeCpuSeconds) * 1e6) / window.acknowledged,
    serverCores: window.serverCpuSeconds / window.seconds,
    loadCores: window.loadCpuSeconds / window.seconds,
  };
}

/**
 * Marks the start and end of a measurement window inside a longer run of steady load: the load
 * generator counts acknowledgements all along, and the window takes the difference of the counts
 * and of the server's CPU time between its two marks, so warm-up and wind-down stay outside it.
 */
export class WindowMarks {
  #start: { at: number; acked: number; failed: number; cpu: number; store: number; load: NodeJS.CpuUsage } | undefined;
  #result: Omit<LoadWindow, 'poolWraps'> | undefined;

  constructor(
    private readonly server: MeasuredServer,
    private readonly counts: () => { acknowledged: number; failed: number },
  ) {}

  /** Schedules the window: it opens after `warmupS` and closes `measureS` later. Resolves when it has closed. */
  schedule(warmupS: number, measureS: number): Promise<void> {
    return new Promise((resolve) => {
      setTimeout(() => {
        this.open();
        setTimeout(() => {
          this.close();
          resolve();
        }, measureS * 1000);
      }, warmupS * 1000);
    });
  }

  open(): void {
    const { acknowledged, failed } = this.counts();
    this.#start = {
      at: performance.now(),
      acked: acknowledged,
      failed,
      cpu: this.server.cpuSeconds(),
      store: this.server.storeCpuSeconds(),
      load: process.cpuUsage(),
    };
  }

  close(): void {
    const start = this.#start;
    if (start === undefined) throw new Error('window closed before it opened');
    const cpu = this.server.cpuSeconds();
    const store = this.server.storeCpuSeconds();
    const load = process.cpuUsage(start.load);
    const { acknowledged, failed } = this.counts();
    this.#result = {
      acknowledged: acknowledged - start.acked,
      failed: failed - start.failed,
      seconds: (performance.now() - start.at) / 1000,
      serverCpuSeconds: cpu - start.cpu,
      storeCpuSeconds: store - start.store,
      loadCpuSeconds: (load.user + load.system) / 1e6,
    };
  }

  result(poolWraps: number): LoadWindow {
    if (this.#result === undefined) throw new Error('the window has not closed');
    return { ...this.#result, poolWraps };
  }
}

/** Resolves at `epochMs` on the wall clock (at once if it has passed): a mark several processes can share. */
export function atWallClock(epochMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, epochMs - Date.now())));
}
