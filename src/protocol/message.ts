/** One reading as a device sends it: a time and named numeric values. */
export interface WireReading {
  /** Milliseconds since the Unix epoch (UTC), an integer. */
  readonly ts: number;
  /** Metric name to value; values are finite IEEE 754 doubles. */
  readonly values: Readonly<Record<string, number>>;
}

/** The JSON payload of a signed telemetry message, protocol version 1. */
export interface TelemetryPayload {
  readonly v: 1;
  /** The device that took the readings; must be the device whose key signed the message. */
  readonly device: string;
  /** The device's message sequence number: an integer from 0 to 2^53-1, echoed in acknowledgements and errors. */
  readonly seq: number;
  readonly readings: readonly WireReading[];
}

/** A reading as it is stored: one device, one time, named values. */
export interface Reading {
  readonly device: string;
  readonly ts: number;
  readonly values: Readonly<Record<string, number>>;
}

/** How the key that verified a message was trusted. */
export type KeySourceKind = 'registry' | 'credential';

/** A message whose signature, identity, schema and timestamps all checked out. */
export interface VerifiedMessage {
  readonly device: string;
  readonly seq: number;
  readonly kid: string | undefined;
  readonly alg: string;
  readonly keySource: KeySourceKind;
  readonly readings: readonly Reading[];
}
