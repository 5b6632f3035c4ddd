import { isMetricName } from '../../src/index.js';
import type { Skip } from './device-reading.js';

/** How {@link collectValues} treats a vendor payload's members. */
export interface CollectOptions {
  /** Member names (at any depth) that are not values: ids, units, times. */
  readonly ignore?: ReadonlySet<string>;
  /** Turn a member name into a metric name segment (Shelly's `temperature:0` → `temperature_0`). */
  readonly rename?: (name: string) => string;
}

/** A string that reads as a number: a number that was sent as a string. */
const NUMERIC_TEXT = /^\s*-?\d+(\.\d+)?([eE][-+]?\d+)?\s*$/;

/**
 * Flattens a vendor JSON object into metric values: numbers as they are,
 * booleans as 1/0 (PROTOCOL.md §2.2), nested members joined with `.`. Text is
 * a device's metadata (a unit, a MAC address) and is left out, except text that
 * reads as a number, which is a number sent as a string: that is skipped and
 * counted (`string_value`), never guessed at.
 */
export function collectValues(
  object: Readonly<Record<string, unknown>>,
  device: string,
  options: CollectOptions = {},
): { values: Record<string, number>; skipped: Skip[] } {
  const values: Record<string, number> = {};
  const skipped: Skip[] = [];
  const visit = (value: unknown, path: string): void => {
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) skipped.push({ reason: 'string_value', device, field: path });
      else if (!isMetricName(path)) skipped.push({ reason: 'bad_metric_name', device, field: path });
      else values[path] = value;
    } else if (typeof value === 'boolean') {
      if (isMetricName(path)) values[path] = value ? 1 : 0;
      else skipped.push({ reason: 'bad_metric_name', device, field: path });
    } else if (typeof value === 'string') {
      if (NUMERIC_TEXT.test(value)) skipped.push({ reason: 'string_value', device, field: path });
    } else if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) visit(item, `${path}.${index}`);
    } else if (value !== null && typeof value === 'object') {
      for (const [name, member] of Object.entries(value)) {
        if (options.ignore?.has(name)) continue;
        const segment = options.rename === undefined ? name : options.rename(name);
        visit(member, path === '' ? segment : `${path}.${segment}`);
      }
    }
  };
  visit(object, '');
  return { values, skipped };
}

/** A parsed JSON object, or undefined when `payload` is not JSON or not an object. */
export function parseJsonObject(payload: Uint8Array | string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
