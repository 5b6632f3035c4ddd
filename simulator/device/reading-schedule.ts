/** When a device takes its readings: from `t0`, `perSecond` readings a second. */
export interface ReadingSchedule {
  /** Time of reading 0, ms since the epoch. */
  readonly t0: number;
  /** Readings a second (message rate × readings per message); at most 1000 so timestamps differ. */
  readonly perSecond: number;
}

/** The timestamp of reading `index`; the run and a later audit both compute it this way. */
export function readingTime(schedule: ReadingSchedule, index: number): number {
  return schedule.t0 + Math.floor((index * 1000) / schedule.perSecond);
}

/** How many readings are due by `now` (readings 0 … n-1 have ts ≤ now). */
export function readingsDue(schedule: ReadingSchedule, now: number): number {
  if (now < schedule.t0) return 0;
  return Math.floor(((now - schedule.t0) * schedule.perSecond) / 1000) + 1;
}
