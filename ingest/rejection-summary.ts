import type { NodeLog } from '../src/pipeline/node-log.js';
import type { IngestMetrics } from './ingest-metrics.js';

/** How often the summary is logged while messages are rejected, by default (docs/OPERATIONS.md). */
export const REJECTION_SUMMARY_INTERVAL_MS = 60_000;

/** Rejections by transport, then by code, e.g. `{ http: { ERR_SIGNATURE_INVALID: 3 } }`. */
export type RejectionCounts = Record<string, Record<string, number>>;

/**
 * Every interval in which messages were rejected, one info line with how many,
 * by transport and code ("messages rejected"); nothing in a quiet interval. The
 * counts are read from telemetry_messages_rejected_total, so the log and the
 * metric cannot disagree; the single rejections are debug lines of their
 * transports.
 */
export class RejectionSummary {
  readonly #metrics: IngestMetrics;
  readonly #log: NodeLog;
  readonly #intervalMs: number;
  #last = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: { metrics: IngestMetrics; log: NodeLog; intervalMs?: number }) {
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#intervalMs = options.intervalMs ?? REJECTION_SUMMARY_INTERVAL_MS;
  }

  /** Logs a summary every interval from now on, until stop(). */
  start(): void {
    this.#timer ??= setInterval(() => void this.report(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Logs the rejections since the last report, if there were any, and returns them. */
  async report(): Promise<RejectionCounts | undefined> {
    const metric = await this.#metrics.registry.getSingleMetric('telemetry_messages_rejected_total')?.get();
    const now = new Map<string, number>();
    const since: RejectionCounts = {};
    let total = 0;
    for (const { value, labels } of metric?.values ?? []) {
      const transport = String(labels.transport);
      const code = String(labels.code);
      const key = `${transport} ${code}`;
      now.set(key, value);
      const delta = value - (this.#last.get(key) ?? 0);
      if (delta <= 0) continue;
      since[transport] = { ...since[transport], [code]: delta };
      total += delta;
    }
    this.#last = now;
    if (total === 0) return undefined;
    this.#log.info({ rejected: since, total, periodSeconds: this.#intervalMs / 1000 }, 'messages rejected');
    return since;
  }
}
