import type { LatestQuery, SeriesInfo, StoredPoint } from './telemetry-store.js';

/** The newest value of one series; changed in place, so the sorted list below keeps pointing at it. */
interface Newest {
  ts: number;
  value: number;
}

interface Entry {
  readonly device: string;
  readonly metric: string;
  readonly newest: Newest;
}

/**
 * Every series a store holds with its newest value, in memory, for a store that is the only writer of its data
 * (the embedded DuckDB file): the newest values and the series list are then answered without a scan of the
 * whole table, which grows with the history (docs/STORAGE.md, "Latest values from memory").
 *
 * What is committed is {@link SeriesCatalogue.record}ed, in commit order, from the moment the store opens; what
 * the file held before is {@link SeriesCatalogue.merge}d once, from one scan, whenever that scan runs: a value
 * recorded while the scan ran is as new as the scan's or newer, so merging keeps it on equal times. Losing the
 * catalogue loses nothing: it is built again from the file.
 *
 * @example
 * ```ts
 * const catalogue = new SeriesCatalogue();
 * catalogue.record([{ device: 'pump-1', metric: 'temp', ts: 2, value: 21 }]);
 * catalogue.merge([{ device: 'pump-1', metric: 'temp', ts: 1, value: 20 }]); // older: kept out
 * catalogue.latest({ devicePrefix: 'pump-' }); // [{ device: 'pump-1', metric: 'temp', ts: 2, value: 21 }]
 * ```
 */
export class SeriesCatalogue {
  /** device → metric → newest value. */
  readonly #devices = new Map<string, Map<string, Newest>>();
  /** Every series in (device, metric) order; rebuilt when a series is added. */
  #sorted: Entry[] | undefined = [];

  /** Number of series. */
  get size(): number {
    let size = 0;
    for (const metrics of this.#devices.values()) size += metrics.size;
    return size;
  }

  /** Committed points, in commit order: a point at the same time as the newest or later replaces it (last write wins). */
  record(points: readonly StoredPoint[]): void {
    this.#put(points, true);
  }

  /** Points read from the store: each replaces the newest value only when it is strictly newer. */
  merge(points: readonly StoredPoint[]): void {
    this.#put(points, false);
  }

  /** The newest value of each series the query selects, in (device, metric) order, as the store's own query. */
  latest(query: LatestQuery): StoredPoint[] {
    const { devicePrefix, metrics } = query;
    const wanted = metrics === undefined ? undefined : new Set(metrics);
    const entries = this.#entries();
    const points: StoredPoint[] = [];
    // The devices a prefix selects are one run of the sorted entries, from the first not below the prefix.
    for (
      let index = devicePrefix === undefined ? 0 : firstNotBelow(entries, devicePrefix);
      index < entries.length;
      index++
    ) {
      const { device, metric, newest } = entries[index] as Entry;
      if (devicePrefix !== undefined && !device.startsWith(devicePrefix)) break;
      if (wanted !== undefined && !wanted.has(metric)) continue;
      points.push({ device, metric, ts: newest.ts, value: newest.value });
    }
    return points;
  }

  /** Every series with the time of its newest value, in (device, metric) order. */
  series(): SeriesInfo[] {
    return this.#entries().map(({ device, metric, newest }) => ({ device, metric, lastSeen: newest.ts }));
  }

  #put(points: readonly StoredPoint[], onEqualTime: boolean): void {
    // A reading's values share their device: its metrics are looked up once for the run.
    let device: string | undefined;
    let metrics: Map<string, Newest> | undefined;
    for (const point of points) {
      if (point.device !== device || metrics === undefined) {
        device = point.device;
        metrics = this.#devices.get(device);
        if (metrics === undefined) {
          metrics = new Map();
          this.#devices.set(device, metrics);
        }
      }
      const newest = metrics.get(point.metric);
      if (newest === undefined) {
        metrics.set(point.metric, { ts: point.ts, value: point.value });
        this.#sorted = undefined;
      } else if (point.ts > newest.ts || (onEqualTime && point.ts === newest.ts)) {
        newest.ts = point.ts;
        newest.value = point.value;
      }
    }
  }

  #entries(): Entry[] {
    if (this.#sorted === undefined) {
      const entries: Entry[] = [];
      for (const [device, metrics] of this.#devices) {
        for (const [metric, newest] of metrics) entries.push({ device, metric, newest });
      }
      // Code-unit order, as DuckDB sorts names of ASCII (the names the protocol allows).
      entries.sort((a, b) => compare(a.device, b.device) || compare(a.metric, b.metric));
      this.#sorted = entries;
    }
    return this.#sorted;
  }
}

/** The index of the first entry whose device is not below `device` in code-unit order (binary search). */
function firstNotBelow(entries: readonly Entry[], device: string): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((entries[middle] as Entry).device < device) low = middle + 1;
    else high = middle;
  }
  return low;
}

function compare(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
