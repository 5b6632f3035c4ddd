import { isDeviceId, isMetricName } from '../../src/index.js';
import type { DeviceReading, MappedInput, Skip } from './device-reading.js';
import { readTimestamp } from './read-timestamp.js';

/**
 * The JSON the local endpoint takes (a Node-RED flow, a script): one reading
 * `{"device":"boiler-7","ts":1733346000000,"values":{"temperature":61.5}}`, an
 * array of them, or `{"readings":[…]}`. `ts` is ms since the epoch or ISO 8601,
 * absent for arrival time; values are numbers (booleans as 1/0).
 */
export function readJsonReadings(body: unknown, devicePrefix: string): MappedInput {
  const list = Array.isArray(body) ? body : ((body as { readings?: unknown } | null)?.readings ?? [body]);
  const readings: DeviceReading[] = [];
  const skipped: Skip[] = [];
  for (const item of Array.isArray(list) ? list : [list]) {
    const r = item as { device?: unknown; ts?: unknown; values?: unknown } | null;
    if (r === null || typeof r !== 'object' || r.values === null || typeof r.values !== 'object') {
      skipped.push({ reason: 'not_json' });
      continue;
    }
    const device = `${devicePrefix}${typeof r.device === 'string' ? r.device : ''}`;
    if (typeof r.device !== 'string' || !isDeviceId(device)) {
      skipped.push({ reason: 'bad_device_id' });
      continue;
    }
    const ts = r.ts === undefined ? undefined : readTimestamp(r.ts);
    if (r.ts !== undefined && ts === undefined) {
      skipped.push({ reason: 'bad_timestamp', device, field: 'ts' });
      continue;
    }
    const values: Record<string, number> = {};
    for (const [name, value] of Object.entries(r.values)) {
      if (!isMetricName(name)) skipped.push({ reason: 'bad_metric_name', device, field: name });
      else if (typeof value === 'number' && Number.isFinite(value)) values[name] = value;
      else if (typeof value === 'boolean') values[name] = value ? 1 : 0;
      else skipped.push({ reason: 'string_value', device, field: name });
    }
    readings.push({ device, ts, values });
  }
  return { readings, skipped };
}
