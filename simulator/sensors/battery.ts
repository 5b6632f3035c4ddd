import { MS_PER_DAY, quantize, type SensorModel } from './sensor-model.js';

export interface BatteryOptions {
  /** Voltage when full. */
  readonly full: number;
  /** Voltage below which the device would die; the model stops there. */
  readonly empty: number;
  /** Volts lost per day of operation, on average. */
  readonly perDay: number;
}

export interface BatteryState {
  readonly volts: number;
  readonly lastTs: number;
}

/** A battery voltage that only decays, a little faster as it empties, with its resolution of 1 mV. */
export function batteryModel(options: BatteryOptions): SensorModel<BatteryState> {
  return {
    metrics: ['battery_v'],
    init: (rng, ts) => ({ volts: options.full - rng.between(0, (options.full - options.empty) / 3), lastTs: ts }),
    sample(state, { ts, rng }) {
      const days = Math.max(0, ts - state.lastTs) / MS_PER_DAY;
      const charge = (state.volts - options.empty) / (options.full - options.empty);
      const rate = options.perDay * (1.5 - 0.5 * charge) * rng.between(0.5, 1.5);
      const volts = Math.max(options.empty, state.volts - rate * days);
      return { state: { volts, lastTs: ts }, values: { battery_v: quantize(volts, 3) } };
    },
  };
}
