const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/**
 * Parses a length of time such as `500ms`, `30s`, `5m`, `1h`, `7d` or `2w` into
 * milliseconds; a bare number is milliseconds. Undefined when it is not one, or
 * is zero.
 *
 * @example
 * ```ts
 * parseSpan('5m'); // 300000
 * ```
 */
export function parseSpan(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (match === null) return undefined;
  const [, amount = '', unit = 'ms'] = match;
  const ms = Number(amount) * (UNIT_MS[unit] ?? 1);
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}
