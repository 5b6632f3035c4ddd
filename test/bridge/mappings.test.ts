import { describe, expect, it } from 'vitest';
import { parseRules } from '../../bridge/mapping/generic-rule.js';
import { readJsonReadings } from '../../bridge/mapping/json-readings.js';
import { readLineProtocol } from '../../bridge/mapping/line-protocol-readings.js';
import { shellyMapping } from '../../bridge/mapping/shelly-mapping.js';
import { tasmotaMapping } from '../../bridge/mapping/tasmota-mapping.js';
import { zigbee2mqttMapping } from '../../bridge/mapping/zigbee2mqtt-mapping.js';

const bytes = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('the Tasmota mapping', () => {
  const tasmota = tasmotaMapping('');

  it('reads tele/<name>/SENSOR as a reading of <name> at its Time, read as UTC', () => {
    const payload = { Time: '2026-12-04T21:00:00', AM2301: { Temperature: 21.3, Humidity: 45.1 }, TempUnit: 'C' };
    expect(tasmota.map('tele/living-room/SENSOR', bytes(payload))).toEqual({
      readings: [
        {
          device: 'living-room',
          ts: Date.parse('2026-12-04T21:00:00Z'),
          values: { 'AM2301.Temperature': 21.3, 'AM2301.Humidity': 45.1 },
        },
      ],
      skipped: [],
    });
  });

  it('keeps an offset Tasmota adds to Time (SetOption52)', () => {
    const mapped = tasmota.map('tele/p/SENSOR', bytes({ Time: '2026-12-04T22:00:00+01:00', ENERGY: { Power: 5 } }));
    expect(mapped?.readings[0]?.ts).toBe(Date.parse('2026-12-04T21:00:00Z'));
  });

  it('skips a payload that is not JSON, and leaves other topics to other mappings', () => {
    expect(tasmota.map('tele/p/SENSOR', bytes('ON'))?.skipped).toEqual([{ reason: 'not_json', device: 'p' }]);
    expect(tasmota.map('tele/p/STATE', bytes({}))).toBeUndefined();
  });
});

describe('the Shelly Gen2 mapping', () => {
  const shelly = shellyMapping('home-');

  it('reads NotifyStatus components as metrics at params.ts, in seconds', () => {
    const payload = {
      src: 'shellyplusht-08b61fcb7f3c',
      dst: 'shellyplusht/events',
      method: 'NotifyStatus',
      params: { ts: 1796420000.25, 'temperature:0': { id: 0, tC: 21.5, tF: 70.7 }, 'humidity:0': { id: 0, rh: 45 } },
    };
    expect(shelly.map('shellyplusht-08b61fcb7f3c/events/rpc', bytes(payload))).toEqual({
      readings: [
        {
          device: 'home-shellyplusht-08b61fcb7f3c',
          ts: 1796420000250,
          values: { 'temperature_0.tC': 21.5, 'temperature_0.tF': 70.7, 'humidity_0.rh': 45 },
        },
      ],
      skipped: [],
    });
  });

  it('reads switch outputs as 1/0 and leaves text such as a MAC address out of NotifyFullStatus', () => {
    const payload = {
      src: 'shellyplus1pm-1',
      method: 'NotifyFullStatus',
      params: { ts: 1796420000, 'switch:0': { id: 0, output: true, apower: 12.5 }, sys: { mac: 'A8032ABE54DC' } },
    };
    expect(shelly.map('shellies/events/rpc', bytes(payload))?.readings[0]?.values).toEqual({
      'switch_0.output': 1,
      'switch_0.apower': 12.5,
    });
  });

  it('ignores notifications that carry no status', () => {
    const payload = { src: 'shelly-1', method: 'NotifyEvent', params: { ts: 1, events: [] } };
    expect(shelly.map('shelly-1/events/rpc', bytes(payload))).toEqual({ readings: [], skipped: [] });
  });
});

describe('the Zigbee2MQTT mapping', () => {
  const z2m = zigbee2mqttMapping('');

  it('reads zigbee2mqtt/<friendly_name> at last_seen, and skips a number sent as a string', () => {
    const payload = {
      temperature: 21.5,
      humidity: '40',
      battery: 98,
      action: 'single',
      last_seen: '2026-12-04T21:00:00.000Z',
    };
    expect(z2m.map('zigbee2mqtt/kitchen', bytes(payload))).toEqual({
      readings: [
        { device: 'kitchen', ts: Date.parse('2026-12-04T21:00:00Z'), values: { temperature: 21.5, battery: 98 } },
      ],
      skipped: [{ reason: 'string_value', device: 'kitchen', field: 'humidity' }],
    });
  });

  it('stamps a state without last_seen on arrival, and leaves zigbee2mqtt/bridge alone', () => {
    expect(z2m.map('zigbee2mqtt/kitchen', bytes({ temperature: 1 }))?.readings[0]?.ts).toBeUndefined();
    expect(z2m.map('zigbee2mqtt/bridge', bytes({ state: 'online' }))).toBeUndefined();
  });

  it('skips a friendly name that is no device id', () => {
    expect(z2m.map('zigbee2mqtt/living room', bytes({ temperature: 1 }))?.skipped).toEqual([
      { reason: 'bad_device_id' },
    ]);
  });
});

describe('a generic rule', () => {
  const rules = `{"rules":[{"topic":"sensors/+/data","device":"{1}","values":{"temperature":"$.t","humidity":"$.env.h"},"timestamp":"$.time","timestampUnit":"s"},
    {"topic":"meters/#","device":"$.meter.id"}]}`;
  const { mappings, problems } = parseRules(rules, '');
  const [bySensor, byMeter] = mappings;

  it('maps a topic level to the device and JSON paths to metrics, at the timestamp field', () => {
    expect(problems).toEqual([]);
    const payload = { t: 21.5, env: { h: 40 }, time: 1796420000, other: 1 };
    expect(bySensor?.map('sensors/attic/data', bytes(payload))).toEqual({
      readings: [{ device: 'attic', ts: 1796420000000, values: { temperature: 21.5, humidity: 40 } }],
      skipped: [],
    });
  });

  it('skips a mapped value that is a string, and a message without its timestamp', () => {
    expect(bySensor?.map('sensors/attic/data', bytes({ t: 'warm', time: 1796420000 }))?.skipped).toEqual([
      { reason: 'string_value', device: 'attic', field: 'temperature' },
    ]);
    expect(bySensor?.map('sensors/attic/data', bytes({ t: 1 }))?.skipped).toEqual([
      { reason: 'bad_timestamp', device: 'attic', field: '$.time' },
    ]);
  });

  it('takes the device from the payload and every numeric member when no values are named', () => {
    expect(byMeter?.map('meters/a/b', bytes({ meter: { id: 'm-7' }, kwh: 12.5 }))?.readings).toEqual([
      { device: 'm-7', ts: undefined, values: { kwh: 12.5 } },
    ]);
  });

  it('names every problem of a bad rules file', () => {
    const bad = parseRules(
      '{"rules":[{"topic":"","device":"$..x","values":{"bad name":"x"},"timestampUnit":"h"}]}',
      '',
    );
    expect(bad.problems).toEqual([
      'rule 1: "topic" must be a topic filter',
      'rule 1: "device" is not a JSON path',
      'rule 1: "bad name" is not a metric name',
      'rule 1: the path of "bad name" is not a JSON path',
      'rule 1: "timestampUnit" must be "ms" or "s"',
    ]);
  });
});

describe('InfluxDB line protocol', () => {
  it('reads the device from the device or host tag, fields as measurement.field, and the time in its precision', () => {
    const body =
      'weather,device=pi-3 temperature=21.5,rain=0i,raining=f 1796420000000000000\ncpu,host=pi-4 idle=98.5 1796420000';
    expect(readLineProtocol(body, 'ns', '').readings).toEqual([
      {
        device: 'pi-3',
        ts: 1796420000000,
        values: { 'weather.temperature': 21.5, 'weather.rain': 0, 'weather.raining': 0 },
      },
      { device: 'pi-4', ts: 1796, values: { 'cpu.idle': 98.5 } },
    ]);
    expect(readLineProtocol('cpu,host=pi-4 idle=98.5 1796420000', 's', '').readings[0]?.ts).toBe(1796420000000);
  });

  it('joins lines of one device at one time into one reading', () => {
    const body = 'a,device=d x=1 1000000\nb,device=d y=2 1000000';
    expect(readLineProtocol(body, 'ns', '').readings).toEqual([{ device: 'd', ts: 1, values: { 'a.x': 1, 'b.y': 2 } }]);
  });

  it('skips string fields and broken lines with a reason, keeping the rest', () => {
    const body = 'w,device=d t=1,note="hot" 1000000\nthis is not a line\nw,device=d t= 2000000';
    const mapped = readLineProtocol(body, 'ns', '');
    expect(mapped.readings).toEqual([{ device: 'd', ts: 1, values: { 'w.t': 1 } }]);
    expect(mapped.skipped).toEqual([
      { reason: 'string_value', device: 'd', field: 'w.note' },
      { reason: 'bad_line_protocol' },
      { reason: 'bad_line_protocol', device: 'd' },
    ]);
  });

  it('reads escaped spaces and commas in tag values', () => {
    expect(readLineProtocol('m,device=a\\,b x=1 1000000', 'ns', '').skipped).toEqual([{ reason: 'bad_device_id' }]);
    expect(readLineProtocol('m,room=living\\ room,device=d x=1', 'ns', '').readings[0]?.device).toBe('d');
  });
});

describe('JSON readings over HTTP', () => {
  it('takes one reading, an array, or {"readings": [...]}, and skips values that are not numbers', () => {
    expect(readJsonReadings({ device: 'boiler-7', ts: 1796420000000, values: { t: 61.5, on: true } }, '')).toEqual({
      readings: [{ device: 'boiler-7', ts: 1796420000000, values: { t: 61.5, on: 1 } }],
      skipped: [],
    });
    const mapped = readJsonReadings({ readings: [{ device: 'a', values: { t: '61.5' } }, { values: {} }] }, '');
    expect(mapped.skipped).toEqual([{ reason: 'string_value', device: 'a', field: 't' }, { reason: 'bad_device_id' }]);
  });
});
