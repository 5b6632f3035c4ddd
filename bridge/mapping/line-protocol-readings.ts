import { isDeviceId, isMetricName } from '../../src/index.js';
import type { DeviceReading, MappedInput, Skip } from './device-reading.js';

/** InfluxDB's `precision` (v1: n, u, ms, s; v2: ns, us, ms, s): how many of its units make a millisecond. */
const UNITS_PER_MS: Readonly<Record<string, number>> = { n: 1e6, ns: 1e6, u: 1e3, us: 1e3, ms: 1, s: 1e-3 };

/** Whether `precision` is one InfluxDB takes. */
export const isPrecision = (precision: string): boolean => precision in UNITS_PER_MS;

/** Splits `text` at `separator` where it is neither escaped with `\` nor inside double quotes. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (c === '\\' && i + 1 < text.length) {
      current += c + (text[i + 1] ?? '');
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      current += c;
    } else if (c === separator && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

const unescapeText = (text: string) => text.replace(/\\(.)/g, '$1');

type Field = { readonly kind: 'number'; readonly value: number } | { readonly kind: 'text' } | { readonly kind: 'bad' };

/** A field value: float, `i`/`u` integer, boolean (as 1/0), or a quoted string (PROTOCOL.md §2.2 takes numbers only). */
function fieldValue(text: string): Field {
  if (text.startsWith('"')) return text.length >= 2 && text.endsWith('"') ? { kind: 'text' } : { kind: 'bad' };
  if (/^(t|T|true|True|TRUE)$/.test(text)) return { kind: 'number', value: 1 };
  if (/^(f|F|false|False|FALSE)$/.test(text)) return { kind: 'number', value: 0 };
  const integer = /^(-?\d+)[iu]$/.exec(text);
  if (integer?.[1] !== undefined) return { kind: 'number', value: Number(integer[1]) };
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return { kind: 'number', value: Number(text) };
  return { kind: 'bad' };
}

/**
 * InfluxDB line protocol (what Telegraf's influxdb outputs and Node-RED's
 * InfluxDB nodes send) as readings: `weather,device=pi-3 temperature=21.5,rain=0i 1733346000000000000`
 * becomes a reading of `pi-3` with `weather.temperature` and `weather.rain`. The
 * device is the `device` tag, else the `host` tag; other tags are not kept (the
 * protocol has none). Lines of one device at one time become one reading.
 * A line without a timestamp is stamped by the bridge on arrival.
 */
export function readLineProtocol(body: string, precision: string, devicePrefix: string): MappedInput {
  const perMs = UNITS_PER_MS[precision] ?? 1e6;
  const readings = new Map<string, { device: string; ts: number | undefined; values: Record<string, number> }>();
  const skipped: Skip[] = [];
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = splitUnescaped(line, ' ').filter((part) => part !== '');
    const [key, fieldsText, timeText, ...extra] = parts;
    if (key === undefined || fieldsText === undefined || extra.length > 0) {
      skipped.push({ reason: 'bad_line_protocol' });
      continue;
    }
    const [measurementText = '', ...tagTexts] = splitUnescaped(key, ',');
    const tags = new Map(
      tagTexts.map((tag) => {
        const [name = '', value = ''] = splitUnescaped(tag, '=');
        return [unescapeText(name), unescapeText(value)];
      }),
    );
    const id = tags.get('device') ?? tags.get('host');
    const device = `${devicePrefix}${id ?? ''}`;
    if (id === undefined || !isDeviceId(device)) {
      skipped.push({ reason: 'bad_device_id' });
      continue;
    }
    let ts: number | undefined;
    if (timeText !== undefined) {
      if (!/^-?\d+$/.test(timeText)) {
        skipped.push({ reason: 'bad_timestamp', device });
        continue;
      }
      ts = Math.round(Number(timeText) / perMs);
    }
    const measurement = unescapeText(measurementText);
    const values: Record<string, number> = {};
    let bad = false;
    for (const field of splitUnescaped(fieldsText, ',')) {
      const at = field.search(/(?<!\\)=/);
      const name = `${measurement}.${unescapeText(field.slice(0, at))}`;
      const value = at < 0 ? ({ kind: 'bad' } as const) : fieldValue(field.slice(at + 1));
      if (value.kind === 'bad') bad = true;
      else if (value.kind === 'text') skipped.push({ reason: 'string_value', device, field: name });
      else if (!isMetricName(name)) skipped.push({ reason: 'bad_metric_name', device, field: name });
      else values[name] = value.value;
    }
    if (bad) {
      skipped.push({ reason: 'bad_line_protocol', device });
      continue;
    }
    const slot = `${device}\u0000${ts ?? ''}`;
    const reading = ts === undefined ? undefined : readings.get(slot);
    if (reading === undefined)
      readings.set(ts === undefined ? `${slot}\u0000${readings.size}` : slot, { device, ts, values });
    else Object.assign(reading.values, values);
  }
  return { readings: [...readings.values()] as DeviceReading[], skipped };
}
