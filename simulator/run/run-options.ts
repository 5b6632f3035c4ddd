import type { JWK } from 'jose';
import type { DeviceSigner } from '../../src/index.js';
import type { MessageLimits } from '../device/message-budget.js';
import type { FaultPlan } from '../faults/fault-plan.js';
import type { FleetManifest } from '../fleet/fleet-manifest.js';
import type { BackoffPolicy } from '../transport/retry-delay.js';
import type { ClockTolerance } from './clock-skew-plan.js';

/** Everything a run needs; the CLI builds it from flags, tests directly. */
export interface RunOptions {
  /** The fleet folder (for the report) and its manifest and signers. */
  readonly fleetDir: string;
  readonly fleet: FleetManifest;
  readonly signers: ReadonlyMap<string, DeviceSigner>;
  readonly transport: 'http' | 'mqtt';
  /** Base URL of a node's HTTP API, or the MQTT broker URL. */
  readonly url: string;
  /** Messages a second per device. */
  readonly rate: number;
  readonly readingsPerMessage: number;
  /** Stop sampling after this long, or after `messages` messages' worth of readings per device. */
  readonly durationMs?: number;
  readonly messages?: number;
  /** Devices start spread over this long. */
  readonly rampMs: number;
  readonly qos: 0 | 1;
  /**
   * MQTT: what counts as delivered, the PUBACK (`puback`, the embedded broker's, sent once stored) or the
   * node's acknowledgement on the acks topic (`end-to-end`, needed through an external broker). Default puback.
   */
  readonly mqttAcks?: 'puback' | 'end-to-end';
  /** End-to-end acknowledgements: resend what got none within this long (default 30 s). */
  readonly ackTimeoutMs?: number;
  /** HTTP: post messages in gateway batches of up to this many. */
  readonly gatewayBatch?: number;
  /** Share of devices (0–1) that go offline once, for `offlineForMs`. */
  readonly offlineShare: number;
  readonly offlineForMs: number;
  /** Share of devices (0–1) whose connection is cut abruptly every `dropEveryMs` while they sample (default 0). */
  readonly dropShare?: number;
  readonly dropEveryMs?: number;
  /** Share of devices (0–1) whose clock is off, each by up to ±`skewMs` (default 0). */
  readonly skewShare?: number;
  readonly skewMs?: number;
  /** The node's time window, to tell which skewed devices it must refuse (default: the node defaults). */
  readonly tolerance?: ClockTolerance;
  /** Seeds the sensor values (recomputable from the report) and all jitter. */
  readonly seed: string;
  readonly limits: MessageLimits;
  /** Messages in flight per device. */
  readonly window: number;
  /** HTTP keep-alive connections shared by the fleet. */
  readonly httpConnections: number;
  readonly tokenTtlSeconds: number;
  readonly audience: string;
  readonly backoff: BackoffPolicy;
  /** How long after sampling ends (and offline devices are back) to wait for acknowledgements. */
  readonly drainTimeoutMs: number;
  readonly now?: () => number;
  /** Faults to inject on purpose (none when absent). */
  readonly faults?: FaultPlan;
  /** The fleet issuer's private key (DIR/issuer.key.json), for expired-credential faults. */
  readonly issuerKey?: JWK;
}

/** Defaults for what the CLI does not ask for. */
export const RUN_DEFAULTS = Object.freeze({
  window: 8,
  httpConnections: 64,
  tokenTtlSeconds: 3600,
  drainTimeoutMs: 30_000,
  dropEveryMs: 10_000,
});
