import { INSTANT_PATTERN, parseInstant } from './parse-instant.js';
import { parseSpan } from './parse-span.js';

const RELATIVE = /^now(?:-(\d+(?:ms|s|m|h|d|w)))?$/;

/** What `from` and `to` of the query API take: an instant, `now`, or `now-<span>` (`now-1h`, `now-15m`, `now-7d`). */
export const QUERY_TIME_PATTERN = `${INSTANT_PATTERN}|^now(-\\d+(ms|s|m|h|d|w))?$`;

/**
 * Reads `from` or `to` of a query: milliseconds since the epoch, an RFC 3339 date-time, `now`, or a time
 * relative to now (`now-1h`; units ms, s, m, h, d, w). Undefined when it is none of these.
 *
 * @example
 * ```ts
 * parseQueryTime('now-1h', Date.UTC(2026, 10, 28, 12)); // Date.UTC(2026, 10, 28, 11)
 * ```
 */
export function parseQueryTime(text: string, now: number): number | undefined {
  const relative = RELATIVE.exec(text);
  if (relative === null) return parseInstant(text);
  const [, span] = relative;
  if (span === undefined) return now;
  const ms = parseSpan(span);
  return ms === undefined ? undefined : now - ms;
}
