import { isDeviceId } from '../../src/index.js';
import { collectValues, parseJsonObject } from './collect-values.js';
import type { MappedInput } from './device-reading.js';
import { type MqttMapping, matchTopic } from './mqtt-mapping.js';
import { readTimestamp } from './read-timestamp.js';

/** Members of a Tasmota SENSOR message that are not readings. */
const NOT_VALUES = new Set(['Time', 'TempUnit', 'PressureUnit', 'SpeedUnit', 'Id']);

/**
 * Tasmota's periodic sensor telemetry, `tele/<topic>/SENSOR`:
 * `{"Time":"2026-12-04T21:00:00","AM2301":{"Temperature":21.3,"Humidity":45.1},"TempUnit":"C"}`
 * becomes device `<prefix><topic>` with `AM2301.Temperature` and `AM2301.Humidity` at `Time`
 * (read as UTC unless it carries an offset, SetOption52).
 */
export function tasmotaMapping(devicePrefix: string): MqttMapping {
  return {
    name: 'tasmota',
    filters: ['tele/+/SENSOR'],
    map(topic, payload): MappedInput | undefined {
      const [name] = matchTopic('tele/+/SENSOR', topic) ?? [];
      if (name === undefined) return undefined;
      const device = `${devicePrefix}${name}`;
      if (!isDeviceId(device)) return { readings: [], skipped: [{ reason: 'bad_device_id' }] };
      const body = parseJsonObject(payload);
      if (body === undefined) return { readings: [], skipped: [{ reason: 'not_json', device }] };
      const ts = body.Time === undefined ? undefined : readTimestamp(body.Time);
      if (body.Time !== undefined && ts === undefined) {
        return { readings: [], skipped: [{ reason: 'bad_timestamp', device, field: 'Time' }] };
      }
      const { values, skipped } = collectValues(body, device, { ignore: NOT_VALUES });
      return { readings: [{ device, ts, values }], skipped };
    },
  };
}
