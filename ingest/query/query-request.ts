import type { FastifyReply } from 'fastify';
import { TelemetryError } from '../../src/errors.js';
import { parseQueryTime } from '../../src/query/parse-query-time.js';
import { DEFAULT_PAGE_LIMIT } from '../../src/query/query-schemas.js';
import type { ReadScope } from '../../src/query/read-scope.js';
import type { Page, ReadingsQuery, StoredPoint, TimeRange } from '../../src/store/telemetry-store.js';
import { insufficientScopeChallenge } from './query-auth.js';

// What a query request asks the store for, whether its token may ask it, and how a page of the answer is laid out.

function invalid(message: string): TelemetryError {
  return new TelemetryError('ERR_QUERY_INVALID', message);
}

/** The range `from`/`to` name, relative times read at `now`; ERR_QUERY_INVALID unless it is a real, non-empty one. */
export function rangeOf(query: { readonly from: string; readonly to: string }, now: number): TimeRange {
  const start = parseQueryTime(query.from, now);
  const end = parseQueryTime(query.to, now);
  if (start === undefined) throw invalid('from is not a time (ms since the epoch, RFC 3339, or now-<span>)');
  if (end === undefined) throw invalid('to is not a time (ms since the epoch, RFC 3339, or now-<span>)');
  if (start >= end) throw invalid('from must be before to');
  return { start, end };
}

/** ERR_FORBIDDEN, with the RFC 6750 challenge, unless the scope covers every device named. */
export function assertCovers(scope: ReadScope, devices: readonly string[], reply: FastifyReply): void {
  const outside = devices.find((device) => !scope.allows(device));
  if (outside === undefined) return;
  reply.header('www-authenticate', insufficientScopeChallenge());
  throw new TelemetryError('ERR_FORBIDDEN', `the operator token does not cover device ${outside}`);
}

/** The order of the latest values: by device, then metric. */
export function byDeviceAndMetric(a: StoredPoint, b: StoredPoint): number {
  if (a.device !== b.device) return a.device < b.device ? -1 : 1;
  if (a.metric !== b.metric) return a.metric < b.metric ? -1 : 1;
  return 0;
}

/** What a readings or windows query selects: devices by name, or every device of one prefix. */
export type DeviceSelection = { readonly devices: string[] } | { readonly devicePrefix: string };

/**
 * The store query that a paged query's parameters ask for. No reading is older than the epoch, so the store is
 * asked only for the part of the range from the epoch on: RFC 3339 reaches back to year 0000, which some stores
 * cannot represent (InfluxDB's nanosecond times start in 1677).
 */
export function storeQuery(
  query: { selection: DeviceSelection; metric?: string[]; limit?: number; cursor?: string },
  range: TimeRange,
): ReadingsQuery {
  const { selection } = query;
  return {
    ...('devicePrefix' in selection
      ? { devices: [], devicePrefix: selection.devicePrefix }
      : { devices: selection.devices }),
    ...(query.metric === undefined ? {} : { metrics: query.metric }),
    range: { start: Math.max(0, range.start), end: Math.max(0, range.end) },
    limit: query.limit ?? DEFAULT_PAGE_LIMIT,
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  };
}

/** The answer's range, items and, when more follow, the cursor to the next page. */
export function pagePayload<T>(range: TimeRange, page: Page<T>) {
  return {
    from: range.start,
    to: range.end,
    items: [...page.items],
    ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
  };
}
