import type { IndexRange } from '../device/index-ranges.js';
import type { FaultTally } from '../faults/fault-injector.js';
import type { VerificationReport } from './verification-report.js';

/** One device in a run report: enough to recompute every reading it acknowledged (see acknowledgedReadings). */
export interface DeviceReport {
  readonly id: string;
  readonly kind: string;
  /** Reading i has ts = t0 + floor(i * 1000 / perSecond). */
  readonly t0: number;
  readonly perSecond: number;
  /** Readings sampled: indices 0 … sampled-1. */
  readonly sampled: number;
  /** Indices of the readings acknowledged as stored (HTTP 200 / PUBACK). */
  readonly acknowledged: readonly IndexRange[];
  /** Indices of readings sent with MQTT QoS 0: maybe stored, never confirmed. */
  readonly unconfirmed: readonly IndexRange[];
  /** Messages refused for good, by code. */
  readonly rejected: Readonly<Record<string, number>>;
  /** Messages neither acknowledged nor dropped when the run ended. */
  readonly pendingAtEnd: number;
  readonly everConnected: boolean;
  /** Offline stretches injected on purpose, ms since the epoch. */
  readonly offline: readonly { readonly from: number; readonly to: number }[];
  /**
   * How far its clock was off on purpose (`--skew`), ms; its readings carry
   * `ts + clockOffsetMs`. Absent in reports without skew: 0.
   */
  readonly clockOffsetMs?: number;
}

/** Connections cut on purpose (`--drop-share`). */
export interface DropsReport {
  /** Devices whose connection was cut now and then. */
  readonly devices: number;
  /** Cuts made: MQTT sockets destroyed, HTTP requests cut before their answer. */
  readonly cuts: number;
}

/** Clocks skewed on purpose (`--skew-share`, `--skew`). */
export interface SkewReport {
  /** Devices whose clock was off. */
  readonly devices: number;
  /** Of those, devices off by more than the node accepts: their readings are refused. */
  readonly beyondTolerance: number;
  /** Messages of those devices refused with ERR_TIMESTAMP_OUT_OF_RANGE, as expected. */
  readonly rejectedAsExpected: number;
  /** The window assumed for the node, ms (`--node-clock-skew`, `--node-max-age`). */
  readonly toleranceMs: { readonly future: number; readonly past: number };
}

/** The machine-readable result of `telemetry simulate run` (`--json`, `--report FILE`). */
export interface RunReport {
  readonly version: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** What the run was asked to do; `seed` (with each device's kind) recomputes every value sent. */
  readonly settings: {
    readonly fleet: string;
    readonly transport: 'http' | 'mqtt';
    readonly url: string;
    readonly qos: 0 | 1;
    /** MQTT: what counted as delivered, the PUBACK or the node's end-to-end acknowledgement (absent before it existed). */
    readonly mqttAcks?: 'puback' | 'end-to-end';
    readonly rate: number;
    readonly readingsPerMessage: number;
    readonly maxReadingsPerMessage: number;
    readonly gatewayBatch: number | null;
    readonly durationMs: number | null;
    readonly messages: number | null;
    readonly rampMs: number;
    readonly offlineShare: number;
    readonly offlineForMs: number;
    readonly dropShare?: number;
    readonly dropEveryMs?: number;
    readonly skewShare?: number;
    readonly skewMs?: number;
    readonly seed: string;
  };
  readonly totals: {
    readonly devices: number;
    readonly devicesConnected: number;
    readonly attempts: number;
    /** Real messages sent, each once: acknowledged + unconfirmed + rejected + pending at end. */
    readonly messagesSent: number;
    readonly messagesAcknowledged: number;
    readonly messagesUnconfirmed: number;
    readonly messagesRejected: number;
    readonly messagesPendingAtEnd: number;
    readonly readingsSampled: number;
    readonly readingsAcknowledged: number;
    readonly readingsUnconfirmed: number;
    readonly readingsRejected: number;
    readonly connects: number;
    readonly disconnects: number;
  };
  readonly throughput: { readonly messagesPerSecond: number; readonly readingsPerSecond: number };
  /** Acknowledgement latency of the successful attempts, ms. */
  readonly latencyMs: {
    readonly count: number;
    readonly p50: number;
    readonly p95: number;
    readonly p99: number;
    readonly max: number;
  };
  /** Messages refused for good, by code. */
  readonly errors: Readonly<Record<string, number>>;
  /** Attempts retried, by code (SIM_* codes are the simulator's: no answer, connection lost). */
  readonly retries: Readonly<Record<string, number>>;
  readonly connectFailures: Readonly<Record<string, number>>;
  /** CPU time of the simulator process during the run (everything in it when run in-process). */
  readonly cpu: { readonly userMs: number; readonly systemMs: number; readonly perMessageUs: number };
  /** Faults injected on purpose, by kind, and what the node answered (present when faults were asked for). */
  readonly faults?: Readonly<Record<string, FaultTally>>;
  /** Connections cut on purpose (present when asked for). */
  readonly drops?: DropsReport;
  /** Clocks skewed on purpose (present when asked for). */
  readonly skew?: SkewReport;
  /** The store audit of `--verify` or `simulate verify`. */
  readonly verification?: VerificationReport;
  /** False when something went wrong that was not injected on purpose; `problems` says what. */
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly devices: readonly DeviceReport[];
}
