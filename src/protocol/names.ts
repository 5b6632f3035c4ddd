/**
 * Device ids: ASCII letters, digits, `.`, `_`, `-`; 1 to 64 characters, starting with a letter or digit.
 * No `/`, `+`, `#` (MQTT topic levels and wildcards) and no space, comma, equals sign,
 * quote, backslash or control character (line protocol and SQL), so a name is safe everywhere it goes.
 */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Metric names: a letter or `_` first, then letters, digits, `_`, `.`, `-`; 1 to 64 characters. */
export const METRIC_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

/** Key ids: ASCII letters, digits and `._:-`, 1 to 128 characters; never a path. */
const KEY_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export function isDeviceId(value: unknown): value is string {
  return typeof value === 'string' && DEVICE_ID_PATTERN.test(value);
}

export function isMetricName(value: unknown): value is string {
  return typeof value === 'string' && METRIC_NAME_PATTERN.test(value);
}

export function isKeyId(value: unknown): value is string {
  return typeof value === 'string' && KEY_ID_PATTERN.test(value);
}
