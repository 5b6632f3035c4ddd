import { TelemetryError } from '../errors.js';
import type { Reading } from '../protocol/message.js';
import { floatText, integerText } from './number-text.js';

/** The measurement every reading is written to. */
export const TELEMETRY_MEASUREMENT = 'telemetry';

/** The one tag: the device id. */
export const DEVICE_TAG = 'device';

/**
 * Whether `value` holds a C0 control character or DEL. Line protocol has no escape for them (a newline always
 * ends the line), and InfluxQL and MetricsQL quoted strings should not carry them either.
 */
export function hasControlCharacter(value: string): boolean {
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function escaper(special: RegExp): (name: string) => string {
  return (name) => {
    if (name.length === 0) throw new TelemetryError('ERR_STORE_REJECTED', 'empty name in line protocol');
    if (hasControlCharacter(name)) {
      throw new TelemetryError(
        'ERR_STORE_REJECTED',
        'a name holds a control character, which line protocol cannot carry',
      );
    }
    return name.replace(special, (character) => `\\${character}`);
  };
}

/**
 * Escapes a measurement name: backslash, comma and space get a backslash
 * (InfluxDB line protocol reference, "Special characters").
 * Escaping the backslash itself means no name can end an escape sequence early.
 * Throws ERR_STORE_REJECTED for an empty name or one with a control character.
 */
export const escapeMeasurement: (name: string) => string = escaper(/[\\, ]/g);

/**
 * Escapes a tag key, tag value or field key: backslash, comma, equals sign and space get a backslash.
 * Throws ERR_STORE_REJECTED for an empty name or one with a control character.
 *
 * InfluxDB 1.x unescapes only `\,`, `\=` and `\ `, so there a name with a backslash is stored with the backslash
 * doubled; InfluxDB 2.x and VictoriaMetrics unescape `\\` too. Either way no name can inject a delimiter.
 */
export const escapeKey: (name: string) => string = escaper(/[\\,= ]/g);

/**
 * Formats a float field value so it parses back to the same double: `String(n)` is the shortest
 * representation that round-trips (ECMA-262 Number::toString), except for negative zero, which it writes as `0`;
 * without an `i` suffix the field is a float even when the value is a whole number (`21`, not `21i`). Throws ERR_STORE_REJECTED for NaN and infinities,
 * which line protocol cannot carry.
 */
function formatFloat(value: number): string {
  if (!Number.isFinite(value)) {
    throw new TelemetryError('ERR_STORE_REJECTED', 'a value is not a finite number');
  }
  return Object.is(value, -0) ? '-0' : floatText(value);
}

/**
 * Turns one reading into one line of InfluxDB line protocol with a millisecond timestamp, or `undefined` when
 * the reading has no values (a line needs at least one field).
 *
 * Data model: measurement `telemetry`, one tag `device`, one float field per metric, timestamp in ms.
 * InfluxDB's series key is measurement plus tag set, so there is one series per device (cardinality = number of
 * devices); each metric is a field of that series. Writing the same (device, metric, ts) again overwrites the
 * field value, which is what makes writes idempotent, last write winning.
 *
 * @example
 * ```ts
 * toLine({ device: 'dev-1', ts: 1700000000000, values: { temp: 21 } });
 * // 'telemetry,device=dev-1 temp=21 1700000000000'
 * ```
 */
export function toLine(reading: Reading): string | undefined {
  return lineOf(reading, INFLUXDB_NAMES);
}

/** {@link toLine} with the escaped names of one dialect. */
function lineOf(reading: Reading, names: DialectNames): string | undefined {
  if (!Number.isSafeInteger(reading.ts)) {
    throw new TelemetryError('ERR_STORE_REJECTED', 'a timestamp is not an integer number of milliseconds');
  }
  let fields = '';
  const values = reading.values;
  for (const metric in values) {
    if (!Object.hasOwn(values, metric)) continue;
    const field = `${names.keys.get(metric)}=${formatFloat(values[metric] as number)}`;
    fields = fields === '' ? field : `${fields},${field}`;
  }
  const series = names.series.get(reading.device);
  if (fields === '') return undefined;
  return `${series} ${fields} ${integerText(reading.ts)}`;
}

/**
 * Escaped names by name, so a batch escapes each device id and metric name once, not once per value. Bounded: when
 * it is full it starts over, so names that come and go cannot grow it without limit. Only names that escaped
 * without an error are kept; a name that throws throws again every time.
 */
class EscapeCache {
  readonly #escape: (name: string) => string;
  readonly #max: number;
  #escaped = new Map<string, string>();

  constructor(escapeName: (name: string) => string, max: number) {
    this.#escape = escapeName;
    this.#max = max;
  }

  get(name: string): string {
    let escaped = this.#escaped.get(name);
    if (escaped === undefined) {
      escaped = this.#escape(name);
      if (this.#escaped.size >= this.#max) this.#escaped = new Map();
      this.#escaped.set(name, escaped);
    }
    return escaped;
  }
}

const MEASUREMENT_AND_TAG = `${escapeMeasurement(TELEMETRY_MEASUREMENT)},${escapeKey(DEVICE_TAG)}=`;

/**
 * Which server parses the lines. VictoriaMetrics (1.79) treats a double quote anywhere in a line as the start
 * of a string field, even inside a tag value or field key where the spec makes it an ordinary character, and
 * then misreads the rest of the line; for it, names with a double quote are refused before sending.
 */
export type LineProtocolDialect = 'influxdb' | 'victoriametrics';

/** The escaped field keys and series prefixes (measurement and device tag) of one dialect. */
interface DialectNames {
  readonly keys: EscapeCache;
  readonly series: EscapeCache;
}

function quoteError(): TelemetryError {
  return new TelemetryError('ERR_STORE_REJECTED', 'a name holds a double quote, which VictoriaMetrics misreads');
}

/** `escapeName`, refusing a name with a double quote: checked once per name, on its way into the cache. */
function withoutQuotes(escapeName: (name: string) => string): (name: string) => string {
  return (name) => {
    if (name.includes('"')) throw quoteError();
    return escapeName(name);
  };
}

const seriesPrefix = (device: string): string => `${MEASUREMENT_AND_TAG}${escapeKey(device)}`;
const INFLUXDB_NAMES: DialectNames = {
  keys: new EscapeCache(escapeKey, 10_000),
  series: new EscapeCache(seriesPrefix, 100_000),
};
const VICTORIA_NAMES: DialectNames = {
  keys: new EscapeCache(withoutQuotes(escapeKey), 10_000),
  series: new EscapeCache(withoutQuotes(seriesPrefix), 100_000),
};

/**
 * Turns a batch of readings into a line protocol body, one line per reading that has values.
 * Validates the whole batch first, so nothing is sent when any reading cannot be written.
 */
export function toLineProtocol(readings: readonly Reading[], dialect: LineProtocolDialect = 'influxdb'): string {
  // One string built by appending: V8 keeps it as a rope until it is sent, cheaper than an array and join().
  let body = '';
  const names = dialect === 'victoriametrics' ? VICTORIA_NAMES : INFLUXDB_NAMES;
  for (const reading of readings) {
    const line = lineOf(reading, names);
    if (line !== undefined) body = body === '' ? line : `${body}\n${line}`;
  }
  return body;
}
