import type { SensorModel } from './sensor-model.js';
import { quantize } from './sensor-model.js';

export interface SensorFaultOptions {
  /** Chance per reading of a spike (one wild value). */
  readonly spikeChance: number;
  /** How far a spike goes, added or subtracted. */
  readonly spikeSize: number;
  /** Chance per reading that the sensor gets stuck, repeating its last values. */
  readonly stuckChance: number;
  /** How many readings a stuck sensor repeats itself. */
  readonly stuckFor: number;
}

export interface FaultyState<S> {
  readonly inner: S;
  /** Readings left to repeat `stuck`. */
  readonly stuckLeft: number;
  readonly stuck: Readonly<Record<string, number>> | undefined;
}

/**
 * Wraps a model with the faults real sensors show: occasional spikes and
 * stretches where the sensor is stuck on one value. The wrapped model keeps
 * running underneath, so it resumes where it would have been.
 */
export function withFaults<S>(model: SensorModel<S>, options: SensorFaultOptions): SensorModel<FaultyState<S>> {
  return {
    metrics: model.metrics,
    init: (rng, ts) => ({ inner: model.init(rng, ts), stuckLeft: 0, stuck: undefined }),
    sample(state, context) {
      const { rng } = context;
      const next = model.sample(state.inner, context);
      // Draw both numbers every time so the stream stays aligned whatever happens.
      const spikeRoll = rng.next();
      const stuckRoll = rng.next();
      if (state.stuckLeft > 0 && state.stuck !== undefined) {
        return {
          state: { inner: next.state, stuckLeft: state.stuckLeft - 1, stuck: state.stuck },
          values: state.stuck,
        };
      }
      if (stuckRoll < options.stuckChance) {
        return {
          state: { inner: next.state, stuckLeft: options.stuckFor - 1, stuck: next.values },
          values: next.values,
        };
      }
      if (spikeRoll < options.spikeChance) {
        const sign = spikeRoll < options.spikeChance / 2 ? 1 : -1;
        const spiked = Object.fromEntries(
          // Re-quantised: a sum like 45.73 + 0.000…4 would carry digits no sensor reports.
          Object.entries(next.values).map(([metric, value]) => [metric, quantize(value + sign * options.spikeSize, 6)]),
        );
        return { state: { inner: next.state, stuckLeft: 0, stuck: undefined }, values: spiked };
      }
      return { state: { inner: next.state, stuckLeft: 0, stuck: undefined }, values: next.values };
    },
  };
}
