import { TelemetryError } from '../errors.js';
import type { ProtocolLimits } from './limits.js';

type TimeWindow = Pick<ProtocolLimits, 'maxReadingAgeMs' | 'maxFutureSkewMs'>;

const UNITS = [
  { name: 'seconds', toMs: 1_000 },
  { name: 'microseconds', toMs: 1 / 1_000 },
  { name: 'nanoseconds', toMs: 1 / 1_000_000 },
] as const;

/**
 * Accepts integer milliseconds since the epoch within [now - maxAge, now + maxFutureSkew].
 * A value that would fall in that window if it were seconds, microseconds or
 * nanoseconds gets ERR_TIMESTAMP_UNIT, so a device sending the wrong unit learns why.
 */
export function checkReadingTime(ts: unknown, where: string, now: number, window: TimeWindow): asserts ts is number {
  if (typeof ts !== 'number') {
    throw new TelemetryError('ERR_PAYLOAD_INVALID', `${where} must be a number of milliseconds since the epoch`);
  }
  const earliest = now - window.maxReadingAgeMs;
  const latest = now + window.maxFutureSkewMs;
  if (Number.isSafeInteger(ts) && ts >= earliest && ts <= latest) return;
  for (const unit of UNITS) {
    const ms = ts * unit.toMs;
    if (ms >= earliest && ms <= latest) {
      throw new TelemetryError(
        'ERR_TIMESTAMP_UNIT',
        `${where} looks like ${unit.name}; timestamps are milliseconds since the epoch`,
      );
    }
  }
  if (!Number.isSafeInteger(ts)) {
    throw new TelemetryError('ERR_PAYLOAD_INVALID', `${where} must be an integer number of milliseconds`);
  }
  throw new TelemetryError(
    'ERR_TIMESTAMP_OUT_OF_RANGE',
    ts < earliest
      ? `${where} is older than the maximum reading age of ${window.maxReadingAgeMs} ms`
      : `${where} is more than ${window.maxFutureSkewMs} ms in the future`,
  );
}
