const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Parses a duration such as `45s`, `15m`, `12h`, `30d` or a bare number of
 * seconds into whole seconds; undefined when it is not one.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (match === null) return undefined;
  const [, amount = '', unit = ''] = match;
  const seconds = Number(amount) * (UNIT_SECONDS[unit] ?? 1);
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}
