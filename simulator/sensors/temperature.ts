import { MS_PER_DAY, quantize, type SensorModel } from './sensor-model.js';

export interface TemperatureOptions {
  /** Daily mean, °C. */
  readonly mean: number;
  /** Half the difference between the afternoon high and the night low, °C. */
  readonly dailyAmplitude: number;
  /** Standard deviation of the measurement noise, °C. */
  readonly noise: number;
  /** Standard deviation of the slow drift per day, °C (a random walk). */
  readonly driftPerDay: number;
  /** Metric name. */
  readonly metric?: string;
}

export interface TemperatureState {
  readonly base: number;
  readonly drift: number;
  readonly lastTs: number;
}

/** Hour of the day (UTC) when the cycle peaks. */
const PEAK_HOUR = 15;

/** The daily cycle alone: +amplitude at PEAK_HOUR, -amplitude twelve hours later. */
export function dailyCycle(ts: number, amplitude: number): number {
  const dayFraction = (((ts % MS_PER_DAY) + MS_PER_DAY) % MS_PER_DAY) / MS_PER_DAY;
  return amplitude * Math.cos(2 * Math.PI * (dayFraction - PEAK_HOUR / 24));
}

/** An air temperature: a daily cycle around a per-device mean, measurement noise and a slow drift. */
export function temperatureModel(options: TemperatureOptions): SensorModel<TemperatureState> {
  const metric = options.metric ?? 'temperature';
  return {
    metrics: [metric],
    init: (rng, ts) => ({ base: options.mean + rng.normal(0, 1.5), drift: 0, lastTs: ts }),
    sample(state, { ts, rng }) {
      const days = Math.max(0, ts - state.lastTs) / MS_PER_DAY;
      const drift = state.drift + rng.normal(0, options.driftPerDay * Math.sqrt(days));
      const value = state.base + drift + dailyCycle(ts, options.dailyAmplitude) + rng.normal(0, options.noise);
      return { state: { base: state.base, drift, lastTs: ts }, values: { [metric]: quantize(value, 2) } };
    },
  };
}
