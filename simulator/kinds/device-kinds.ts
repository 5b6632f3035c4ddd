import type { DeviceKind } from './device-kind.js';
import { gpsKind } from './gps-kind.js';
import { meterKind } from './meter-kind.js';
import { thermoKind } from './thermo-kind.js';

/** Every kind the simulator knows, by name. To add one, write `<name>-kind.ts` and list it here. */
export const DEVICE_KINDS: ReadonlyMap<string, DeviceKind> = new Map(
  [thermoKind, meterKind, gpsKind].map((kind) => [kind.name, kind]),
);

/** The kind named `name`, or undefined. */
export function findDeviceKind(name: string): DeviceKind | undefined {
  return DEVICE_KINDS.get(name);
}
