import { isDeviceId } from '../../src/index.js';
import { collectValues, parseJsonObject } from './collect-values.js';
import type { MappedInput } from './device-reading.js';
import { type MqttMapping, matchTopic } from './mqtt-mapping.js';
import { readTimestamp } from './read-timestamp.js';

/** The Gen2 notifications that carry a device's status (Shelly API docs, "Notifications"). */
const STATUS_METHODS = new Set(['NotifyStatus', 'NotifyFullStatus']);
/** Component members that name rather than measure. */
const NOT_VALUES = new Set(['id']);

/**
 * Shelly Gen2 (Plus, Pro) RPC notifications, `<prefix>/events/rpc` with MQTT
 * "RPC status notifications" on: `{"src":"shellyplusht-08b6…","method":"NotifyStatus",
 * "params":{"ts":1733346000.12,"temperature:0":{"id":0,"tC":21.5},"humidity:0":{"id":0,"rh":45}}}`
 * becomes device `<prefix><src>` with `temperature_0.tC` and `humidity_0.rh` at `ts`
 * (seconds). Other notifications (NotifyEvent) carry no readings and are ignored.
 */
export function shellyMapping(devicePrefix: string): MqttMapping {
  return {
    name: 'shelly',
    filters: ['+/events/rpc'],
    map(topic, payload): MappedInput | undefined {
      if (matchTopic('+/events/rpc', topic) === undefined) return undefined;
      const body = parseJsonObject(payload);
      if (body === undefined) return { readings: [], skipped: [{ reason: 'not_json' }] };
      if (typeof body.method !== 'string' || !STATUS_METHODS.has(body.method)) return { readings: [], skipped: [] };
      const device = `${devicePrefix}${typeof body.src === 'string' ? body.src : ''}`;
      if (!isDeviceId(device)) return { readings: [], skipped: [{ reason: 'bad_device_id' }] };
      const params = body.params;
      if (params === null || typeof params !== 'object' || Array.isArray(params)) {
        return { readings: [], skipped: [{ reason: 'no_values', device }] };
      }
      const { ts: rawTs, ...status } = params as Record<string, unknown>;
      const ts = rawTs === undefined ? undefined : readTimestamp(rawTs, 's');
      if (rawTs !== undefined && ts === undefined)
        return { readings: [], skipped: [{ reason: 'bad_timestamp', device, field: 'ts' }] };
      const { values, skipped } = collectValues(status, device, {
        ignore: NOT_VALUES,
        rename: (name) => name.replace(':', '_'),
      });
      return { readings: [{ device, ts, values }], skipped };
    },
  };
}
