import { isDeviceId, isMetricName } from '../../src/index.js';
import { collectValues, parseJsonObject } from './collect-values.js';
import type { MappedInput, Skip } from './device-reading.js';
import { type JsonPath, parseJsonPath, readJsonPath } from './json-path.js';
import { type MqttMapping, matchTopic } from './mqtt-mapping.js';
import { readTimestamp, type TimestampUnit } from './read-timestamp.js';

/** A generic rule as written in the rules file (docs/BRIDGE.md, "Generic rules"). */
interface RuleText {
  /** An MQTT topic filter (`+`, `#`), which is also what the bridge subscribes to. */
  topic: string;
  /** The device id: a template with `{1}`, `{2}` … for the filter's wildcards, or a JSON path (`$.id`). */
  device: string;
  /** Metric name → JSON path; absent: every numeric member, flattened. */
  values?: Record<string, string>;
  /** JSON path of the timestamp (ISO 8601, or a number in `timestampUnit`); absent: arrival time. */
  timestamp?: string;
  timestampUnit?: TimestampUnit;
}

/**
 * Reads the rules file's text into mappings, or the problems that make it
 * unusable (for a ConfigError naming TELEMETRY_BRIDGE_RULES).
 *
 * @example
 * {"rules":[{"topic":"sensors/+/data","device":"{1}","values":{"temperature":"$.t"},"timestamp":"$.time","timestampUnit":"s"}]}
 */
export function parseRules(text: string, devicePrefix: string): { mappings: MqttMapping[]; problems: string[] } {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { mappings: [], problems: ['is not valid JSON'] };
  }
  const rules = (document as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules)) return { mappings: [], problems: ['must be an object with a "rules" array'] };
  const problems: string[] = [];
  const mappings: MqttMapping[] = [];
  rules.forEach((rule: unknown, index) => {
    const found = ruleProblems(rule);
    if (found.length > 0) problems.push(...found.map((p) => `rule ${index + 1}: ${p}`));
    else mappings.push(ruleMapping(rule as RuleText, index + 1, devicePrefix));
  });
  return { mappings, problems };
}

function ruleProblems(rule: unknown): string[] {
  if (rule === null || typeof rule !== 'object') return ['is not an object'];
  const r = rule as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof r.topic !== 'string' || r.topic === '' || /(^|\/)#./.test(r.topic))
    problems.push('"topic" must be a topic filter');
  if (typeof r.device !== 'string' || r.device === '') problems.push('"device" must be a template or a JSON path');
  else if (r.device.startsWith('$') && parseJsonPath(r.device) === undefined)
    problems.push('"device" is not a JSON path');
  if (r.values !== undefined) {
    if (r.values === null || typeof r.values !== 'object')
      problems.push('"values" must map metric names to JSON paths');
    else {
      for (const [metric, path] of Object.entries(r.values)) {
        if (!isMetricName(metric)) problems.push(`"${metric}" is not a metric name`);
        if (typeof path !== 'string' || parseJsonPath(path) === undefined)
          problems.push(`the path of "${metric}" is not a JSON path`);
      }
    }
  }
  if (r.timestamp !== undefined && (typeof r.timestamp !== 'string' || parseJsonPath(r.timestamp) === undefined)) {
    problems.push('"timestamp" must be a JSON path');
  }
  if (r.timestampUnit !== undefined && r.timestampUnit !== 'ms' && r.timestampUnit !== 's') {
    problems.push('"timestampUnit" must be "ms" or "s"');
  }
  return problems;
}

/** The device id a rule gives a message: its template filled with the topic's levels, or the value at its path. */
function deviceOf(rule: RuleText, captured: readonly string[], body: Record<string, unknown>): string | undefined {
  if (rule.device.startsWith('$')) {
    const value = readJsonPath(body, parseJsonPath(rule.device) ?? []);
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
  }
  return rule.device.replace(/\{(\d+)\}/g, (_, n: string) => captured[Number(n) - 1] ?? '');
}

function ruleMapping(rule: RuleText, number: number, devicePrefix: string): MqttMapping {
  const paths: [string, JsonPath][] = Object.entries(rule.values ?? {}).map(([m, p]) => [m, parseJsonPath(p) ?? []]);
  const timestamp = rule.timestamp === undefined ? undefined : parseJsonPath(rule.timestamp);
  return {
    name: `rule ${number}`,
    filters: [rule.topic],
    map(topic, payload): MappedInput | undefined {
      const captured = matchTopic(rule.topic, topic);
      if (captured === undefined) return undefined;
      const body = parseJsonObject(payload);
      if (body === undefined) return { readings: [], skipped: [{ reason: 'not_json' }] };
      const id = deviceOf(rule, captured, body);
      const device = `${devicePrefix}${id ?? ''}`;
      if (id === undefined || !isDeviceId(device)) return { readings: [], skipped: [{ reason: 'bad_device_id' }] };
      let ts: number | undefined;
      if (timestamp !== undefined) {
        ts = readTimestamp(readJsonPath(body, timestamp), rule.timestampUnit ?? 'ms');
        if (ts === undefined)
          return { readings: [], skipped: [{ reason: 'bad_timestamp', device, field: rule.timestamp }] };
      }
      if (rule.values === undefined) {
        const { values, skipped } = collectValues(body, device);
        return { readings: [{ device, ts, values }], skipped };
      }
      const values: Record<string, number> = {};
      const skipped: Skip[] = [];
      for (const [metric, path] of paths) {
        const value = readJsonPath(body, path);
        if (typeof value === 'number' && Number.isFinite(value)) values[metric] = value;
        else if (typeof value === 'boolean') values[metric] = value ? 1 : 0;
        // A mapped path that holds a string (or nothing usable) is a value the device got wrong.
        else if (value !== undefined) skipped.push({ reason: 'string_value', device, field: metric });
      }
      return { readings: [{ device, ts, values }], skipped };
    },
  };
}
