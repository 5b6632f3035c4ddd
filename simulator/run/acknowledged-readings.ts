import { readingTime } from '../device/reading-schedule.js';
import { findDeviceKind, KindSampler } from '../kinds/index.js';
import { SeededRandom } from '../random/seeded-random.js';
import type { DeviceReport, RunReport } from './run-report.js';

/** One value a device sent and a node acknowledged: what the store must hold, once. */
export interface AcknowledgedPoint {
  readonly device: string;
  readonly metric: string;
  readonly ts: number;
  readonly value: number;
}

/**
 * Recomputes the values a device's acknowledged readings carried, from the
 * run seed and the device's kind and schedule, by replaying its sensors in
 * order (the report stores only index ranges). This is what a `--verify`
 * audit compares the store against.
 */
export function* acknowledgedPoints(report: RunReport, device: DeviceReport): Generator<AcknowledgedPoint> {
  const kind = findDeviceKind(device.kind);
  if (kind === undefined) throw new TypeError(`the report names an unknown device kind ${device.kind}`);
  const sampler = new KindSampler(kind, SeededRandom.from(report.settings.seed, 'sensors', device.id));
  const schedule = { t0: device.t0, perSecond: device.perSecond, clockOffsetMs: device.clockOffsetMs ?? 0 };
  let index = 0;
  for (const [first, last] of device.acknowledged) {
    for (; index <= last; index++) {
      const ts = readingTime(schedule, index);
      const values = sampler.sample(ts);
      if (index < first) continue;
      for (const [metric, value] of Object.entries(values)) yield { device: device.id, metric, ts, value };
    }
  }
}
