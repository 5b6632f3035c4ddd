import { quantize, type SensorModel } from './sensor-model.js';

export interface HumidityOptions {
  /** Relative humidity at the reference temperature, %. */
  readonly mean: number;
  /** The temperature at which humidity is at its mean, °C. */
  readonly referenceTemperature: number;
  /** How many % humidity falls per °C of warming. */
  readonly perDegree: number;
  readonly noise: number;
  /** The temperature metric it follows. */
  readonly temperatureMetric?: string;
}

export interface HumidityState {
  readonly base: number;
}

/** Relative humidity that moves against the device's temperature (warm air holds more water), within 0–100 %. */
export function humidityModel(options: HumidityOptions): SensorModel<HumidityState> {
  const follows = options.temperatureMetric ?? 'temperature';
  return {
    metrics: ['humidity'],
    init: (rng) => ({ base: options.mean + rng.normal(0, 5) }),
    sample(state, { rng, values }) {
      const temperature = values[follows] ?? options.referenceTemperature;
      const raw =
        state.base - options.perDegree * (temperature - options.referenceTemperature) + rng.normal(0, options.noise);
      return { state, values: { humidity: quantize(Math.min(100, Math.max(0, raw)), 1) } };
    },
  };
}
