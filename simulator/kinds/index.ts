export type { DeviceKind } from './device-kind.js';
export { KindSampler, kindMetrics } from './device-kind.js';
export { DEVICE_KINDS, findDeviceKind } from './device-kinds.js';
export { gpsKind } from './gps-kind.js';
export { meterKind } from './meter-kind.js';
export { thermoKind } from './thermo-kind.js';
