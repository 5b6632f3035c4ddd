import { type ConfigKey, ConfigSchema, type SettingSchema } from './config-schema.js';

/**
 * How a setting is named to an operator: its environment variable and, when
 * it has one, its `serve` flag, e.g. `TELEMETRY_HTTP_PORT (--http-port)`.
 */
export function settingName(key: ConfigKey): string {
  const schema = ConfigSchema.properties[key] as unknown as SettingSchema;
  return schema.flag === undefined ? schema.env : `${schema.env} (--${schema.flag})`;
}

/**
 * A value as it may be shown in a message or log line: a URL without its user
 * name, password, query or fragment, which may hold a secret.
 */
export function shownValue(value: string | number): string {
  if (typeof value === 'number') return String(value);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try {
      const url = new URL(value);
      return `${url.protocol}//${url.host}${url.pathname}`;
    } catch {
      return JSON.stringify(value);
    }
  }
  return JSON.stringify(value);
}

/**
 * One line for a setting the node cannot start with: the setting (variable and
 * flag), its value, what is wrong, and what to do about it.
 *
 * @example
 * settingProblem('httpPort', 8080, 'the port is in use', 'stop what holds it, or choose another port')
 * // 'TELEMETRY_HTTP_PORT (--http-port) = 8080: the port is in use; stop what holds it, or choose another port'
 */
export function settingProblem(key: ConfigKey, value: string | number, what: string, fix: string): string {
  return `${settingName(key)} = ${shownValue(value)}: ${what}; ${fix}`;
}
