import { TelemetryError } from '../errors.js';
import type { Reading } from '../protocol/message.js';
import type { StoredPoint } from './telemetry-store.js';

/**
 * Splits readings into one point per value, keeping only the last point for
 * each (device, metric, ts) so a batch is itself last-write-wins and a store
 * never sees the same key twice in one statement.
 *
 * @throws TelemetryError ERR_STORE_REJECTED when a time is not an integer
 * number of milliseconds or a value is not finite: no store can keep those
 * exactly, and nothing of the batch should be written.
 *
 * @example
 * ```ts
 * flattenReadings([{ device: 'pump-1', ts: 1_700_000_000_000, values: { temp: 21.5, rpm: 900 } }]);
 * // two points: (pump-1, temp, ...) and (pump-1, rpm, ...)
 * ```
 */
export function flattenReadings(readings: readonly Reading[]): StoredPoint[] {
  // Keyed per reading rather than per value: a batch rarely repeats a reading,
  // and one key per reading is several times faster than one per value.
  const byKey = new Map<string, Reading>();
  for (const reading of readings) {
    if (!Number.isSafeInteger(reading.ts)) {
      throw new TelemetryError('ERR_STORE_REJECTED', `a reading of ${reading.device} has a non-integer time`);
    }
    for (const value of Object.values(reading.values)) {
      if (!Number.isFinite(value)) {
        throw new TelemetryError('ERR_STORE_REJECTED', `a reading of ${reading.device} has a non-finite value`);
      }
    }
    // Device ids cannot hold NUL (see protocol/names.ts), so the key is unambiguous.
    const key = `${reading.device}\u0000${reading.ts}`;
    const earlier = byKey.get(key);
    byKey.set(key, earlier === undefined ? reading : { ...reading, values: { ...earlier.values, ...reading.values } });
  }
  const points: StoredPoint[] = [];
  for (const { device, ts, values } of byKey.values()) {
    for (const [metric, value] of Object.entries(values)) points.push({ device, metric, ts, value });
  }
  return points;
}
