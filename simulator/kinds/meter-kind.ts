import { energyMeterModel } from '../sensors/energy-meter.js';
import type { DeviceKind } from './device-kind.js';

/** A mains energy meter: a register that only counts up and the power drawn. */
export const meterKind: DeviceKind = {
  name: 'meter',
  description: 'energy register (kWh, only counts up) and power of a mains energy meter',
  sensors: [energyMeterModel({ meanWatts: 800 })],
};
