/**
 * Shared by bench/transport-floor.ts and bench/transport-floor-server.ts; imports nothing, so the
 * compiled server (bench/tsconfig.build.json) pulls in no benchmark code.
 *
 * The servers of the transport floor section (bench/transport-floor-server.ts), in the order the
 * section measures them: two over HTTP, two over MQTT.
 */
export const FLOOR_KINDS = ['node-http', 'fastify', 'aedes', 'mqtt-packet'] as const;

/** One floor server. */
export type FloorKind = (typeof FLOOR_KINDS)[number];

export function isFloorKind(value: string): value is FloorKind {
  return (FLOOR_KINDS as readonly string[]).includes(value);
}

/**
 * The transport a floor server speaks, and so the load that drives it (a saturation.ts `Transport`;
 * not imported from there, so the server's build stays free of the load generator).
 */
export function floorTransport(kind: FloorKind): 'http' | 'mqtt' {
  return kind === 'aedes' || kind === 'mqtt-packet' ? 'mqtt' : 'http';
}

/** The start of the line a floor server prints once it listens. */
export function floorReadyLine(kind: FloorKind): string {
  return `transport floor ${kind} listening on`;
}
