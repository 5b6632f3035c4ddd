/** When a device takes its readings: from `t0`, `perSecond` readings a second. */
export interface ReadingSchedule {
  /** Time of reading 0 by the real clock, ms since the epoch. */
  readonly t0: number;
  /** Readings a second (message rate × readings per message); at most 1000 so timestamps differ. */
  readonly perSecond: number;
  /** How far the device's own clock is off (positive: ahead), ms; its timestamps move by as much. Default 0. */
  readonly clockOffsetMs?: number;
}

/** When reading `index` is taken, by the real clock. */
export function readingDueTime(schedule: ReadingSchedule, index: number): number {
  return schedule.t0 + Math.floor((index * 1000) / schedule.perSecond);
}

/** The timestamp of reading `index`, by the device's clock; the run and a later audit both compute it this way. */
export function readingTime(schedule: ReadingSchedule, index: number): number {
  return readingDueTime(schedule, index) + (schedule.clockOffsetMs ?? 0);
}

/** How many readings are due by `now` (real clock; readings 0 … n-1 are due at or before now). */
export function readingsDue(schedule: ReadingSchedule, now: number): number {
  if (now < schedule.t0) return 0;
  return Math.floor(((now - schedule.t0) * schedule.perSecond) / 1000) + 1;
}
