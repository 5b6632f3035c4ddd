import { quantize, type SensorModel } from './sensor-model.js';
import { dailyCycle } from './temperature.js';

export interface EnergyMeterOptions {
  /** Mean power draw, W. */
  readonly meanWatts: number;
}

export interface EnergyMeterState {
  readonly kwh: number;
  readonly watts: number;
  readonly lastTs: number;
}

const MS_PER_HOUR = 3_600_000;

/**
 * An energy meter: the power draw wanders around a daily pattern and the
 * energy register (kWh, 0.001 resolution) only counts up.
 */
export function energyMeterModel(options: EnergyMeterOptions): SensorModel<EnergyMeterState> {
  return {
    metrics: ['energy_kwh', 'power_w'],
    init: (rng, ts) => ({ kwh: rng.between(0, 20_000), watts: options.meanWatts, lastTs: ts }),
    sample(state, { ts, rng }) {
      const hours = Math.max(0, ts - state.lastTs) / MS_PER_HOUR;
      const target = options.meanWatts + dailyCycle(ts, options.meanWatts * 0.5);
      const watts = Math.max(0, state.watts + 0.2 * (target - state.watts) + rng.normal(0, options.meanWatts * 0.05));
      // Rounding is monotonic, so the reported register never steps back.
      const kwh = state.kwh + (watts / 1000) * hours;
      return {
        state: { kwh, watts, lastTs: ts },
        values: { energy_kwh: quantize(kwh, 3), power_w: quantize(watts, 1) },
      };
    },
  };
}
