import { parseInstant } from './parse-instant.js';
import { parseSpan } from './parse-span.js';

/**
 * Reads a point in time as the CLI takes it: `now`, a time relative to `now`
 * (`-2h`, `-30m`), milliseconds since the epoch, or an RFC 3339 date-time.
 * Undefined when it is none of these.
 *
 * @example
 * ```ts
 * resolveTime('-2h', Date.UTC(2026, 10, 28, 12)); // Date.UTC(2026, 10, 28, 10)
 * ```
 */
export function resolveTime(text: string, now: number): number | undefined {
  if (text === 'now') return now;
  if (text.startsWith('-')) {
    const span = parseSpan(text.slice(1));
    return span === undefined ? undefined : now - span;
  }
  return parseInstant(text);
}
