import { indicesOf } from '../device/index-ranges.js';
import { readingTime } from '../device/reading-schedule.js';
import { FAULT_PROBE_METRIC } from '../faults/fault-kind.js';
import { findDeviceKind, KindSampler } from '../kinds/index.js';
import { SeededRandom } from '../random/seeded-random.js';
import type { DeviceReport, RunReport } from '../run/run-report.js';
import type { VerificationReport } from '../run/verification-report.js';
import type { ReadingsSource } from './readings-source.js';

export interface VerifyOptions {
  readonly source: ReadingsSource;
  readonly sourceKind: VerificationReport['source'];
  /** Devices per query (the query API takes up to 100). */
  readonly devicesPerQuery?: number;
  /** Page size (the query API takes up to 10 000). */
  readonly pageSize?: number;
}

const MAX_LISTED = 20;
/** Slack after the run's end for readings stamped a little ahead (clock skew). */
const END_SLACK_MS = 120_000;

/** Every stored value of `devices`, from the epoch (fault probes in seconds land in 1970) to the run's end. */
async function storedValues(source: ReadingsSource, devices: readonly string[], end: number, pageSize: number) {
  const stored = new Map<string, Map<string, number[]>>();
  let cursor: string | undefined;
  do {
    const page = await source.queryReadings({
      devices,
      range: { start: 0, end },
      limit: pageSize,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const point of page.items) {
      let byKey = stored.get(point.device);
      if (byKey === undefined) {
        byKey = new Map();
        stored.set(point.device, byKey);
      }
      const key = `${point.metric}@${point.ts}`;
      const values = byKey.get(key);
      if (values === undefined) byKey.set(key, [point.value]);
      else values.push(point.value);
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return stored;
}

/**
 * Reconciles a run report with what the store holds: every acknowledged value
 * stored exactly once with the value sent (recomputed from the seed), how many
 * unacknowledged ones were stored anyway, and that no fault probe was stored.
 *
 * @example
 * const verification = await verifyRun(report, { source: new QueryApiSource(url, token), sourceKind: 'query-api' });
 */
export async function verifyRun(report: RunReport, options: VerifyOptions): Promise<VerificationReport> {
  const perQuery = options.devicesPerQuery ?? 100;
  const pageSize = options.pageSize ?? 10_000;
  const end = Date.parse(report.finishedAt) + END_SLACK_MS;
  const counts = { expected: 0, storedOnce: 0, missing: 0, duplicated: 0, wrongValue: 0 };
  const unacknowledged = { sampled: 0, stored: 0 };
  let faultProbesStored = 0;
  let otherStored = 0;
  const problems: string[] = [];
  const note = (problem: string) => {
    if (problems.length < MAX_LISTED) problems.push(problem);
  };
  for (let i = 0; i < report.devices.length; i += perQuery) {
    const chunk = report.devices.slice(i, i + perQuery);
    const stored = await storedValues(
      options.source,
      chunk.map((d) => d.id),
      end,
      pageSize,
    );
    for (const device of chunk) {
      const byKey = stored.get(device.id) ?? new Map<string, number[]>();
      for (const { ts, values, acknowledged } of sampledReadings(report, device)) {
        for (const [metric, value] of Object.entries(values)) {
          const key = `${metric}@${ts}`;
          const found = byKey.get(key) ?? [];
          byKey.delete(key);
          if (!acknowledged) {
            unacknowledged.sampled++;
            if (found.length > 0) unacknowledged.stored++;
            continue;
          }
          counts.expected++;
          if (found.length === 0) {
            counts.missing++;
            note(`${device.id} ${metric}@${ts}: acknowledged, not stored`);
          } else if (found.length > 1) {
            counts.duplicated++;
            note(`${device.id} ${metric}@${ts}: stored ${found.length} times`);
          } else if (found[0] !== value) {
            counts.wrongValue++;
            note(`${device.id} ${metric}@${ts}: sent ${value}, stored ${found[0]}`);
          } else counts.storedOnce++;
        }
      }
      for (const [key, values] of byKey) {
        if (key.startsWith(`${FAULT_PROBE_METRIC}@`)) {
          faultProbesStored += values.length;
          note(`${device.id} ${key}: a fault probe was stored`);
        } else otherStored += values.length;
      }
    }
  }
  const ok = counts.missing === 0 && counts.duplicated === 0 && counts.wrongValue === 0 && faultProbesStored === 0;
  return {
    source: options.sourceKind,
    checkedAt: new Date().toISOString(),
    devices: report.devices.length,
    acknowledged: counts,
    unacknowledged,
    faultProbesStored,
    otherStored,
    ok,
    problems,
  };
}

/** Every reading a device sampled, recomputed from the seed, and whether it was acknowledged. */
function* sampledReadings(report: RunReport, device: DeviceReport) {
  const kind = findDeviceKind(device.kind);
  if (kind === undefined) throw new TypeError(`the report names an unknown device kind ${device.kind}`);
  const sampler = new KindSampler(kind, SeededRandom.from(report.settings.seed, 'sensors', device.id));
  const schedule = { t0: device.t0, perSecond: device.perSecond, clockOffsetMs: device.clockOffsetMs ?? 0 };
  const acknowledged = indicesOf(device.acknowledged)[Symbol.iterator]();
  let nextAcknowledged = acknowledged.next();
  for (let index = 0; index < device.sampled; index++) {
    const ts = readingTime(schedule, index);
    while (!nextAcknowledged.done && nextAcknowledged.value < index) nextAcknowledged = acknowledged.next();
    yield { ts, values: sampler.sample(ts), acknowledged: !nextAcknowledged.done && nextAcknowledged.value === index };
  }
}
