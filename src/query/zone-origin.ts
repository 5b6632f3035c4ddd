import { TelemetryError } from '../errors.js';
import type { TimeRange } from '../store/telemetry-store.js';

// How often the zone's offset is sampled for a change within a range: every zone changes its offset at most a
// few times a year, never twice within six hours.
const SAMPLE_EVERY_MS = 6 * 3_600_000;
const MAX_SAMPLES = 20_000;

function invalid(message: string, cause?: unknown): TelemetryError {
  return new TelemetryError('ERR_QUERY_INVALID', message, cause === undefined ? {} : { cause });
}

/** The zone's UTC offset at `instant`, in ms (`+01:00` → 3,600,000). */
function offsetAt(format: Intl.DateTimeFormat, instant: number): number {
  const name = format.formatToParts(instant).find((part) => part.type === 'timeZoneName')?.value ?? 'GMT';
  const match = /^GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(name);
  if (match === null) throw invalid(`cannot read the UTC offset of the time zone (${name})`);
  const [, sign, h = '0', m = '0', s = '0'] = match;
  return (sign === '-' ? -1 : 1) * ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1_000;
}

/** The first instant in (low, high] whose offset differs from `low`'s, found by halving. */
function changeBetween(format: Intl.DateTimeFormat, low: number, high: number): number {
  const before = offsetAt(format, low);
  let [a, b] = [low, high];
  while (b - a > 1) {
    const middle = a + Math.floor((b - a) / 2);
    if (offsetAt(format, middle) === before) a = middle;
    else b = middle;
  }
  return b;
}

/**
 * Where windows of `windowMs` start so that they are aligned to the wall clock of the IANA time zone
 * `timeZone` (`Europe/Berlin`): the origin is minus the zone's UTC offset, so day windows start at local
 * midnight and hour windows at the local full hour.
 *
 * A window has one length in milliseconds, so when the zone changes its offset within the range (daylight
 * saving time) by an amount that is not a whole number of windows, no alignment fits both sides: such a query
 * is refused, naming the instant of the change, and can be asked as two ranges split there. Changes by whole
 * windows (a one-hour change under hour windows or shorter ones that divide the hour) keep the alignment.
 *
 * @throws TelemetryError ERR_QUERY_INVALID for an unknown zone, or an offset change that moves the windows.
 * @example
 * ```ts
 * windowOrigin('Europe/Berlin', { start: Date.UTC(2026, 0, 1), end: Date.UTC(2026, 0, 8) }, 86_400_000); // -3_600_000
 * ```
 */
export function windowOrigin(timeZone: string, range: TimeRange, windowMs: number): number {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  } catch (error) {
    throw invalid(`tz is not an IANA time zone name: ${timeZone}`, error);
  }
  const offset = offsetAt(format, range.start);
  const step = Math.max(SAMPLE_EVERY_MS, Math.ceil((range.end - range.start) / MAX_SAMPLES));
  let previous = range.start;
  for (let at = Math.min(range.start + step, range.end - 1); ; at = Math.min(at + step, range.end - 1)) {
    const shift = offsetAt(format, at) - offset;
    if (shift % windowMs !== 0) {
      const change = changeBetween(format, previous, at);
      throw invalid(
        `the UTC offset of ${timeZone} changes at ${new Date(change).toISOString()}, which moves windows of ` +
          `${windowMs} ms: ask for the range before and the range after it separately`,
      );
    }
    if (at >= range.end - 1) break;
    previous = at;
  }
  return -offset;
}
