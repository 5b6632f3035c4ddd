/** How a numeric timestamp field counts time. */
export type TimestampUnit = 'ms' | 's';

/** An ISO 8601 date-time; without a zone it is read as UTC (Tasmota's `Time` without SetOption52). */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * A device's timestamp as ms since the epoch: an ISO 8601 string, or a number
 * in `unit` (seconds may carry a fraction). Undefined when it is neither.
 */
export function readTimestamp(value: unknown, unit: TimestampUnit = 'ms'): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) {
    return Math.round(unit === 's' ? value * 1000 : value);
  }
  if (typeof value !== 'string' || !ISO_DATE_TIME.test(value)) return undefined;
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(zoned);
  return Number.isFinite(ms) ? ms : undefined;
}
