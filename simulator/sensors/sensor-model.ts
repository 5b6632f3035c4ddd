import type { SeededRandom } from '../random/seeded-random.js';

/** What a sensor sees when it takes one reading. */
export interface SampleContext {
  /** The reading time, ms since the epoch. */
  readonly ts: number;
  /** The device's sensor stream; models draw from it in a fixed order, so a replay gives the same values. */
  readonly rng: SeededRandom;
  /** Values the device's earlier sensors produced for this reading (humidity reads the temperature). */
  readonly values: Readonly<Record<string, number>>;
}

/** One sample: the sensor's next state and the values it reports. */
export interface Sample<S> {
  readonly state: S;
  readonly values: Readonly<Record<string, number>>;
}

/**
 * A sensor model: pure functions of (state, time, seeded RNG) to values, so a
 * device's readings can be recomputed from the run seed alone.
 */
export interface SensorModel<S> {
  /** The metric names it reports. */
  readonly metrics: readonly string[];
  /** The state before the first reading at `ts`. */
  init(rng: SeededRandom, ts: number): S;
  /** The reading at `context.ts` (never earlier than the previous one). */
  sample(state: S, context: SampleContext): Sample<S>;
}

/** A model with its state type forgotten, as a device kind holds it (methods are checked bivariantly). */
export type AnySensorModel = SensorModel<unknown>;

/** Rounds to `decimals` places, as a real sensor's resolution would. */
export function quantize(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}

export const MS_PER_DAY = 86_400_000;
