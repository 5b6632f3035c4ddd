import { isDeviceId } from '../../src/index.js';
import { collectValues, parseJsonObject } from './collect-values.js';
import type { MappedInput } from './device-reading.js';
import { type MqttMapping, matchTopic } from './mqtt-mapping.js';
import { readTimestamp } from './read-timestamp.js';

/** Members of a device state that are not readings. */
const NOT_VALUES = new Set(['last_seen', 'device', 'update', 'elapsed']);

/**
 * Zigbee2MQTT device state, `zigbee2mqtt/<friendly_name>`:
 * `{"temperature":21.5,"humidity":40,"battery":98,"linkquality":120,"last_seen":"2026-12-04T21:00:00.000Z"}`
 * becomes device `<prefix><friendly_name>` with each numeric member, at `last_seen` when
 * Zigbee2MQTT's `last_seen` option is on (ISO 8601 or epoch ms), else at arrival.
 * `zigbee2mqtt/bridge` is Zigbee2MQTT's own and is ignored.
 */
export function zigbee2mqttMapping(devicePrefix: string): MqttMapping {
  return {
    name: 'zigbee2mqtt',
    filters: ['zigbee2mqtt/+'],
    map(topic, payload): MappedInput | undefined {
      const [name] = matchTopic('zigbee2mqtt/+', topic) ?? [];
      if (name === undefined || name === 'bridge') return undefined;
      const device = `${devicePrefix}${name}`;
      if (!isDeviceId(device)) return { readings: [], skipped: [{ reason: 'bad_device_id' }] };
      const body = parseJsonObject(payload);
      if (body === undefined) return { readings: [], skipped: [{ reason: 'not_json', device }] };
      const ts = body.last_seen === undefined ? undefined : readTimestamp(body.last_seen);
      if (body.last_seen !== undefined && ts === undefined) {
        return { readings: [], skipped: [{ reason: 'bad_timestamp', device, field: 'last_seen' }] };
      }
      const { values, skipped } = collectValues(body, device, { ignore: NOT_VALUES });
      return { readings: [{ device, ts, values }], skipped };
    },
  };
}
