import { randomUUID } from 'node:crypto';
import type { Reading } from '../../src/protocol/message.js';
import type {
  Aggregate,
  Page,
  ReadingsQuery,
  StoredPoint,
  TimeRange,
  WindowedQuery,
  WindowPoint,
} from '../../src/store/telemetry-store.js';

const HOUR = 3_600_000;

/**
 * A whole hour three hours ago: recent enough for any retention policy, and
 * aligned to every window the tests use.
 */
export const BASE = Math.floor(Date.now() / HOUR) * HOUR - 3 * HOUR;

/** A range around BASE wide enough for every test's points. */
export const AROUND_BASE: TimeRange = { start: BASE - HOUR, end: BASE + 2 * HOUR };

/** Unique to this run, so tests against a shared server never see each other's data. */
export const RUN = randomUUID().slice(0, 8);

let serial = 0;

/** A device id no other test or run uses. */
export function uniqueDevice(label: string): string {
  serial += 1;
  return `${label}-${RUN}-${serial}`;
}

/** Binary (code unit) order, which is what the stores sort by for ASCII names. */
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function byDeviceMetricTime(a: StoredPoint, b: StoredPoint): number {
  return compareText(a.device, b.device) || compareText(a.metric, b.metric) || a.ts - b.ts;
}

/** What the store should hold after writing `readings`, in query order. */
export function pointsOf(readings: readonly Reading[]): StoredPoint[] {
  return readings
    .flatMap((r) => Object.entries(r.values).map(([metric, value]) => ({ device: r.device, metric, ts: r.ts, value })))
    .sort(byDeviceMetricTime);
}

/** Follows nextCursor to the end; returns every page. */
export async function allPages<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
): Promise<(readonly T[])[]> {
  const pages: (readonly T[])[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    pages.push(page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return pages;
}

export function readingsQuery(devices: readonly string[], extra: Partial<ReadingsQuery> = {}): ReadingsQuery {
  return { devices, range: AROUND_BASE, limit: 10_000, ...extra };
}

export function windowedQuery(
  devices: readonly string[],
  windowMs: number,
  aggregate: Aggregate,
  extra: Partial<WindowedQuery> = {},
): WindowedQuery {
  return { ...readingsQuery(devices), windowMs, aggregate, ...extra };
}

function aggregateOf(points: readonly StoredPoint[], aggregate: Aggregate): number {
  const values = points.map((p) => p.value);
  switch (aggregate) {
    case 'mean':
      return values.reduce((sum, v) => sum + v, 0) / values.length;
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
    case 'sum':
      return values.reduce((sum, v) => sum + v, 0);
    case 'count':
      return values.length;
    case 'last':
      return points.reduce((newest, p) => (p.ts > newest.ts ? p : newest)).value;
  }
}

/** Windows computed here, independently of any store: start = ts minus the floored modulo of its distance from the origin. */
export function expectedWindows(
  points: readonly StoredPoint[],
  range: TimeRange,
  windowMs: number,
  aggregate: Aggregate,
  originMs = 0,
): WindowPoint[] {
  const groups = new Map<string, { device: string; metric: string; ts: number; members: StoredPoint[] }>();
  for (const p of points) {
    if (p.ts < range.start || p.ts >= range.end) continue;
    const ts = p.ts - ((((p.ts - originMs) % windowMs) + windowMs) % windowMs);
    const key = JSON.stringify([p.device, p.metric, ts]);
    const group = groups.get(key) ?? { device: p.device, metric: p.metric, ts, members: [] };
    group.members.push(p);
    groups.set(key, group);
  }
  return [...groups.values()]
    .map(({ device, metric, ts, members }) => ({ device, metric, ts, value: aggregateOf(members, aggregate) }))
    .sort(byDeviceMetricTime);
}
