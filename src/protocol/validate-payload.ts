import { TelemetryError } from '../errors.js';
import { checkReadingTime } from './check-reading-time.js';
import type { ProtocolLimits } from './limits.js';
import type { TelemetryPayload } from './message.js';
import { DEVICE_ID_PATTERN, isDeviceId, isMetricName, METRIC_NAME_PATTERN } from './names.js';
import { PROTOCOL_VERSION } from './wire-types.js';

const PAYLOAD_MEMBERS = new Set(['v', 'device', 'seq', 'readings']);
const READING_MEMBERS = new Set(['ts', 'values']);

export interface ValidatePayloadOptions {
  readonly limits: ProtocolLimits;
  /** The node's clock, in milliseconds since the epoch. */
  readonly now: number;
}

/**
 * Metric names that passed {@link isMetricName} lately: a fleet uses a few names in every reading, and a set
 * lookup is several times cheaper than the pattern. Bounded: it starts over when full.
 */
let knownMetricNames = new Set<string>();
const MAX_KNOWN_METRIC_NAMES = 10_000;

function isKnownMetricName(name: string): boolean {
  if (knownMetricNames.has(name)) return true;
  if (!isMetricName(name)) return false;
  if (knownMetricNames.size >= MAX_KNOWN_METRIC_NAMES) knownMetricNames = new Set();
  knownMetricNames.add(name);
  return true;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(reason: string): TelemetryError {
  return new TelemetryError('ERR_PAYLOAD_INVALID', reason);
}

function rejectUnknownMembers(value: Record<string, unknown>, allowed: ReadonlySet<string>, where: string): void {
  for (const name of Object.keys(value)) {
    if (!allowed.has(name)) throw invalid(`${where} has an unknown member ${JSON.stringify(name)}`);
  }
}

/** Where error texts say a reading is; built only when one is thrown. */
function whereOf(index: number): string {
  return `payload.readings[${index}]`;
}

function repeats(earlier: Record<string, unknown> | readonly Record<string, unknown>[], name: string): boolean {
  if (!Array.isArray(earlier)) return Object.hasOwn(earlier, name);
  for (const other of earlier) if (Object.hasOwn(other, name)) return true;
  return false;
}

/**
 * Checks a parsed payload against protocol version 1 and the node's limits,
 * returning it typed. Each rule has its own error code (see docs/PROTOCOL.md).
 */
export function validatePayload(value: unknown, options: ValidatePayloadOptions): TelemetryPayload {
  const { limits, now } = options;
  if (!isPlainObject(value)) throw invalid('payload must be a JSON object');
  rejectUnknownMembers(value, PAYLOAD_MEMBERS, 'payload');
  if (value.v !== PROTOCOL_VERSION) throw invalid(`payload.v must be ${PROTOCOL_VERSION}`);
  if (typeof value.device !== 'string') throw invalid('payload.device must be a string');
  if (!isDeviceId(value.device)) {
    throw new TelemetryError('ERR_NAME_INVALID', `payload.device must match ${DEVICE_ID_PATTERN.source}`);
  }
  const seq = value.seq;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
    throw invalid('payload.seq must be an integer from 0 to 2^53-1');
  }
  const readings = value.readings;
  if (!Array.isArray(readings) || readings.length === 0) throw invalid('payload.readings must be a non-empty array');
  if (readings.length > limits.maxReadingsPerMessage) {
    throw new TelemetryError(
      'ERR_TOO_MANY_READINGS',
      `payload.readings holds ${readings.length} readings; at most ${limits.maxReadingsPerMessage} are accepted`,
    );
  }
  // The values of the readings so far, by ts: one metric may appear once per ts, so only readings sharing a ts
  // are compared (no key string per value, which cost more than the rest of the check).
  // One entry per ts: the values object of the only reading so far with it (the usual case, no array), or of all.
  const byTs = new Map<number, Record<string, unknown> | Record<string, unknown>[]>();
  // The usual case, a time inside the window, is checked here without building the reading's `where` text;
  // anything else goes through checkReadingTime for its exact error.
  const earliest = now - limits.maxReadingAgeMs;
  const latest = now + limits.maxFutureSkewMs;
  const maxValues = limits.maxValuesPerReading;
  for (let i = 0; i < readings.length; i++) {
    const reading: unknown = readings[i];
    if (!isPlainObject(reading)) throw invalid(`${whereOf(i)} must be an object`);
    const members = Object.keys(reading);
    for (let m = 0; m < members.length; m++) {
      if (!READING_MEMBERS.has(members[m] as string)) rejectUnknownMembers(reading, READING_MEMBERS, whereOf(i));
    }
    const ts = reading.ts;
    if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < earliest || ts > latest) {
      checkReadingTime(ts, `${whereOf(i)}.ts`, now, limits);
    }
    const values = reading.values;
    if (!isPlainObject(values)) throw invalid(`${whereOf(i)}.values must be an object`);
    const names = Object.keys(values);
    if (names.length === 0) throw invalid(`${whereOf(i)}.values must hold at least one value`);
    if (names.length > maxValues) {
      throw new TelemetryError(
        'ERR_TOO_MANY_VALUES',
        `${whereOf(i)}.values holds ${names.length} values; at most ${maxValues} are accepted`,
      );
    }
    const earlier = byTs.get(ts);
    for (let n = 0; n < names.length; n++) {
      const name = names[n] as string;
      if (!isKnownMetricName(name)) {
        throw new TelemetryError(
          'ERR_NAME_INVALID',
          `${whereOf(i)}.values has a metric name outside ${METRIC_NAME_PATTERN.source}`,
        );
      }
      const v = values[name];
      // The strict parser already refuses numbers beyond double range; this also guards callers that skip it.
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw invalid(`${whereOf(i)}.values.${name} must be a finite number`);
      }
      if (earlier !== undefined && repeats(earlier, name)) {
        throw invalid(`${whereOf(i)}.values.${name} repeats a metric already given for ts ${ts}`);
      }
    }
    if (earlier === undefined) byTs.set(ts, values);
    else if (Array.isArray(earlier)) earlier.push(values);
    else byTs.set(ts, [earlier, values]);
  }
  return value as unknown as TelemetryPayload;
}
