import { quantize, type SensorModel } from './sensor-model.js';

export interface GpsRouteOptions {
  /** Centre of the area the routes lie in. */
  readonly centre: { readonly lat: number; readonly lon: number };
  /** Largest distance of a waypoint from the centre, m. */
  readonly radiusMeters: number;
  /** Waypoints per route (a closed loop). */
  readonly waypoints: number;
  /** Cruising speed, m/s. */
  readonly speed: number;
}

export interface GpsRouteState {
  /** The loop's waypoints as [lat, lon]. */
  readonly route: readonly (readonly [number, number])[];
  /** Metres travelled along the loop. */
  readonly travelled: number;
  readonly lastTs: number;
}

const METERS_PER_DEGREE_LAT = 111_320;

function legLength(a: readonly [number, number], b: readonly [number, number]): number {
  const dLat = (b[0] - a[0]) * METERS_PER_DEGREE_LAT;
  const dLon = (b[1] - a[1]) * METERS_PER_DEGREE_LAT * Math.cos((a[0] * Math.PI) / 180);
  return Math.hypot(dLat, dLon);
}

/** The point `travelled` metres along the closed loop `route`. */
function positionOnRoute(route: GpsRouteState['route'], travelled: number): [number, number] {
  const legs = route.map((point, i) => legLength(point, route[(i + 1) % route.length] ?? point));
  const total = legs.reduce((sum, leg) => sum + leg, 0);
  let left = total > 0 ? travelled % total : 0;
  for (let i = 0; i < route.length; i++) {
    const leg = legs[i] ?? 0;
    const from = route[i];
    const to = route[(i + 1) % route.length];
    if (from === undefined || to === undefined) break;
    if (left <= leg) {
      const f = leg > 0 ? left / leg : 0;
      return [from[0] + f * (to[0] - from[0]), from[1] + f * (to[1] - from[1])];
    }
    left -= leg;
  }
  const first = route[0] ?? [0, 0];
  return [first[0], first[1]];
}

/** A tracker driving a closed route of random waypoints at a varying speed; reports lat, lon (1e-6°) and speed. */
export function gpsRouteModel(options: GpsRouteOptions): SensorModel<GpsRouteState> {
  return {
    metrics: ['lat', 'lon', 'speed_mps'],
    init(rng, ts) {
      const route: [number, number][] = [];
      for (let i = 0; i < options.waypoints; i++) {
        const angle = (2 * Math.PI * (i + rng.between(-0.3, 0.3))) / options.waypoints;
        const r = options.radiusMeters * rng.between(0.3, 1);
        const lat = options.centre.lat + (r * Math.sin(angle)) / METERS_PER_DEGREE_LAT;
        const lon =
          options.centre.lon + (r * Math.cos(angle)) / (METERS_PER_DEGREE_LAT * Math.cos((lat * Math.PI) / 180));
        route.push([lat, lon]);
      }
      return { route, travelled: rng.between(0, options.radiusMeters), lastTs: ts };
    },
    sample(state, { ts, rng }) {
      const seconds = Math.max(0, ts - state.lastTs) / 1000;
      const speed = Math.max(0, options.speed * rng.between(0.6, 1.2));
      const travelled = state.travelled + speed * seconds;
      const [lat, lon] = positionOnRoute(state.route, travelled);
      return {
        state: { route: state.route, travelled, lastTs: ts },
        values: { lat: quantize(lat, 6), lon: quantize(lon, 6), speed_mps: quantize(speed, 2) },
      };
    },
  };
}
