import type { SeededRandom } from '../random/seeded-random.js';
import type { AnySensorModel } from '../sensors/sensor-model.js';

/** A kind of device: a name and the sensors it carries, sampled in order for every reading. */
export interface DeviceKind {
  /** Short name used in device ids (`sim-<kind>-00042`): lowercase letters and digits. */
  readonly name: string;
  readonly description: string;
  readonly sensors: readonly AnySensorModel[];
}

/** Every metric a kind reports. */
export function kindMetrics(kind: DeviceKind): string[] {
  return kind.sensors.flatMap((sensor) => sensor.metrics);
}

/**
 * The readings of one device of `kind`, one after another: holds the sensors'
 * states and draws from the device's own sensor stream, so the n-th reading
 * depends only on the kind, the stream's seed and the reading times.
 */
export class KindSampler {
  readonly #kind: DeviceKind;
  readonly #rng: SeededRandom;
  #states: unknown[] | undefined;

  constructor(kind: DeviceKind, rng: SeededRandom) {
    this.#kind = kind;
    this.#rng = rng;
  }

  /** The values of the next reading, taken at `ts` (not earlier than the previous one). */
  sample(ts: number): Record<string, number> {
    const rng = this.#rng;
    const states = this.#states ?? this.#kind.sensors.map((sensor) => sensor.init(rng, ts));
    const values: Record<string, number> = {};
    this.#kind.sensors.forEach((sensor, i) => {
      const next = sensor.sample(states[i], { ts, rng, values });
      states[i] = next.state;
      Object.assign(values, next.values);
    });
    this.#states = states;
    return values;
  }
}
