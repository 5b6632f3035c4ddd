/** One plain reading of an upstream device, as the bridge will sign and forward it. */
export interface DeviceReading {
  readonly device: string;
  /** ms since the epoch; undefined when the device sent no time (the bridge stamps its arrival). */
  readonly ts: number | undefined;
  readonly values: Readonly<Record<string, number>>;
}

/**
 * Why input was skipped, as the `reason` label of `telemetry_bridge_input_skipped_total`:
 * - `not_json`: the payload is not JSON (or not a JSON object);
 * - `bad_line_protocol`: a line of InfluxDB line protocol does not parse;
 * - `string_value`: a string (or other non-number) where a number belongs;
 * - `bad_metric_name`: a value whose name is no metric name (PROTOCOL.md §2.3) even after mapping;
 * - `no_values`: a reading without a single numeric value;
 * - `bad_device_id`: the device id the mapping gives is no device id (§2.3);
 * - `bad_timestamp`: the timestamp field is missing, unreadable, or not a time;
 * - `too_many_values`: more values than one reading may carry;
 * - `no_key`: the device has no key file and TELEMETRY_BRIDGE_NEW_KEYS=off;
 * - `key_error`: the device's key file cannot be read, or a new one cannot be written.
 */
export type SkipReason =
  | 'not_json'
  | 'bad_line_protocol'
  | 'string_value'
  | 'bad_metric_name'
  | 'no_values'
  | 'bad_device_id'
  | 'bad_timestamp'
  | 'too_many_values'
  | 'no_key'
  | 'key_error';

/** Something of the input the bridge did not forward, and why. */
export interface Skip {
  readonly reason: SkipReason;
  /** The device it came from, when known; never the payload (it may hold anything). */
  readonly device?: string;
  /** The value's or field's name, when one value was skipped. */
  readonly field?: string;
}

/** What a mapping made of one input: the readings to forward, and what it skipped. */
export interface MappedInput {
  readonly readings: readonly DeviceReading[];
  readonly skipped: readonly Skip[];
}
