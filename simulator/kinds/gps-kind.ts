import { batteryModel } from '../sensors/battery.js';
import { gpsRouteModel } from '../sensors/gps-route.js';
import type { DeviceKind } from './device-kind.js';

/** A vehicle tracker driving a loop around a city: latitude, longitude, speed and battery. */
export const gpsKind: DeviceKind = {
  name: 'gps',
  description: 'position (lat, lon), speed and battery of a vehicle tracker on a route',
  sensors: [
    gpsRouteModel({ centre: { lat: 48.8566, lon: 2.3522 }, radiusMeters: 5_000, waypoints: 8, speed: 12 }),
    batteryModel({ full: 4.2, empty: 3.3, perDay: 0.01 }),
  ],
};
