import { describe, expect, it } from 'vitest';
import type { SensorModel } from '../../simulator/index.js';
import { gpsKind, KindSampler, meterKind, SeededRandom, thermoKind } from '../../simulator/index.js';
import { batteryModel } from '../../simulator/sensors/battery.js';
import { energyMeterModel } from '../../simulator/sensors/energy-meter.js';
import { temperatureModel } from '../../simulator/sensors/temperature.js';

const DAY = Date.UTC(2026, 5, 1);
const HOUR = 3_600_000;

/** Runs one model over `times` with a seeded stream; its values in order. */
function run<S>(model: SensorModel<S>, times: readonly number[], seed = 'models'): Record<string, number>[] {
  const rng = SeededRandom.from(seed);
  let state = model.init(rng, times[0] ?? 0);
  return times.map((ts) => {
    const sample = model.sample(state, { ts, rng, values: {} });
    state = sample.state;
    return { ...sample.values };
  });
}

const hours = (count: number, step = HOUR) => Array.from({ length: count }, (_, i) => DAY + i * step);
const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

describe('sensor models', () => {
  it('gives the same readings for the same seed and other readings for another', () => {
    const times = hours(48, 60_000);
    const a = new KindSampler(thermoKind, SeededRandom.from('s', 'dev'));
    const b = new KindSampler(thermoKind, SeededRandom.from('s', 'dev'));
    const c = new KindSampler(thermoKind, SeededRandom.from('t', 'dev'));
    const [ra, rb, rc] = [a, b, c].map((sampler) => times.map((ts) => sampler.sample(ts)));
    expect(ra).toEqual(rb);
    expect(ra).not.toEqual(rc);
  });

  it('follows a daily cycle: afternoons are warmer than nights', () => {
    const model = temperatureModel({ mean: 20, dailyAmplitude: 4, noise: 0.2, driftPerDay: 0.1 });
    const times = hours(24 * 14);
    const values = run(model, times).map((v) => v.temperature ?? Number.NaN);
    const at = (hour: number) => mean(values.filter((_, i) => new Date(times[i] ?? 0).getUTCHours() === hour));
    expect(at(15) - at(3)).toBeGreaterThan(6);
    expect(Math.abs(mean(values) - 20)).toBeLessThan(3);
  });

  it('moves humidity against temperature', () => {
    const sampler = new KindSampler(thermoKind, SeededRandom.from('humid'));
    const readings = hours(24 * 7).map((ts) => sampler.sample(ts));
    const t = readings.map((r) => r.temperature ?? 0);
    const h = readings.map((r) => r.humidity ?? 0);
    const [mt, mh] = [mean(t), mean(h)];
    const covariance = mean(t.map((x, i) => (x - mt) * ((h[i] ?? 0) - mh)));
    expect(covariance).toBeLessThan(0);
    expect(h.every((x) => x >= 0 && x <= 100)).toBe(true);
  });

  it('never lets the energy register count down', () => {
    const values = run(energyMeterModel({ meanWatts: 800 }), hours(2000, 1000)).map((v) => v.energy_kwh ?? 0);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1] ?? 0);
    expect(values.at(-1)).toBeGreaterThan(values[0] ?? 0);
  });

  it('lets the battery voltage only decay', () => {
    const values = run(batteryModel({ full: 3.3, empty: 2.4, perDay: 0.05 }), hours(24 * 30)).map(
      (v) => v.battery_v ?? 0,
    );
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1] ?? 0);
    expect((values[0] ?? 0) - (values.at(-1) ?? 0)).toBeGreaterThan(0.5);
  });

  it('moves the GPS tracker continuously along its route', () => {
    const sampler = new KindSampler(gpsKind, SeededRandom.from('gps'));
    const readings = hours(600, 1000).map((ts) => sampler.sample(ts));
    for (let i = 1; i < readings.length; i++) {
      const [a, b] = [readings[i - 1], readings[i]];
      const dLat = ((b?.lat ?? 0) - (a?.lat ?? 0)) * 111_320;
      const dLon = ((b?.lon ?? 0) - (a?.lon ?? 0)) * 111_320 * Math.cos(((a?.lat ?? 0) * Math.PI) / 180);
      // 1 s apart at no more than 1.2 × 12 m/s, plus rounding.
      expect(Math.hypot(dLat, dLon)).toBeLessThan(16);
    }
    const lats = readings.map((r) => r.lat ?? 0);
    expect(Math.max(...lats) - Math.min(...lats)).toBeGreaterThan(0.01);
  });

  it('shows occasional spikes and stuck stretches on the thermo temperature', () => {
    const sampler = new KindSampler(thermoKind, SeededRandom.from('faults'));
    const values = hours(20_000, 10_000).map((ts) => sampler.sample(ts).temperature ?? 0);
    const spikes = values.filter((v) => v > 40 || v < 0).length;
    let stuckRuns = 0;
    for (let i = 10; i < values.length; i++) if (values.slice(i - 10, i).every((v) => v === values[i])) stuckRuns++;
    expect(spikes).toBeGreaterThan(0);
    expect(stuckRuns).toBeGreaterThan(0);
  });

  it('reports every metric its kind lists', () => {
    const sampler = new KindSampler(meterKind, SeededRandom.from('m'));
    expect(Object.keys(sampler.sample(DAY)).sort()).toEqual(['energy_kwh', 'power_w']);
  });
});
