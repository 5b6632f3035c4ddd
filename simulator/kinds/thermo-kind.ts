import { batteryModel } from '../sensors/battery.js';
import { humidityModel } from '../sensors/humidity.js';
import { withFaults } from '../sensors/sensor-faults.js';
import { temperatureModel } from '../sensors/temperature.js';
import type { DeviceKind } from './device-kind.js';

/** A battery-powered room climate sensor: temperature (with spikes and stuck stretches), humidity, battery. */
export const thermoKind: DeviceKind = {
  name: 'thermo',
  description: 'temperature, humidity and battery voltage of a battery-powered climate sensor',
  sensors: [
    withFaults(temperatureModel({ mean: 21, dailyAmplitude: 3, noise: 0.15, driftPerDay: 0.3 }), {
      spikeChance: 0.002,
      spikeSize: 25,
      stuckChance: 0.001,
      stuckFor: 20,
    }),
    humidityModel({ mean: 45, referenceTemperature: 21, perDegree: 2, noise: 0.8 }),
    batteryModel({ full: 3.3, empty: 2.4, perDay: 0.002 }),
  ],
};
