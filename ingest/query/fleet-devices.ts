import type { FastifyReply } from 'fastify';
import { TelemetryError } from '../../src/errors.js';
import type { ReadScope } from '../../src/query/read-scope.js';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';
import { assertCovers, type DeviceSelection } from './query-request.js';

/** Whether a selection can hold no device (an empty list: the prefix matched nothing the scope allows). */
export function nothingSelected(selection: DeviceSelection): boolean {
  return 'devices' in selection && selection.devices.length === 0;
}

/**
 * What a readings or windows query selects: the named devices, or for `prefix`, when what the token's scope allows
 * of it is every device of one prefix, that prefix, for the store to select in the query itself (no list looked up
 * first); otherwise the devices {@link fleetDevices} finds.
 */
export async function deviceSelection(
  query: { readonly device?: string[]; readonly prefix?: string },
  scope: ReadScope,
  store: TelemetryStore,
  reply: FastifyReply,
): Promise<DeviceSelection> {
  const covering =
    query.prefix === undefined || query.device !== undefined ? undefined : scope.coveringPrefix(query.prefix);
  if (covering !== undefined) return { devicePrefix: covering };
  return { devices: await fleetDevices(query, scope, store, reply) };
}

/**
 * The devices a readings or windows query is about: the `device` list as named (each must be in the token's
 * scope, or ERR_FORBIDDEN), or, for `prefix`, every stored device whose id starts with it and that the scope
 * covers, found with the same per-prefix store queries as `/latest` (so a narrow token never makes the store
 * read every device). Exactly one of the two must be given.
 */
async function fleetDevices(
  query: { readonly device?: string[]; readonly prefix?: string },
  scope: ReadScope,
  store: TelemetryStore,
  reply: FastifyReply,
): Promise<string[]> {
  if (query.device !== undefined && query.prefix !== undefined) {
    throw new TelemetryError('ERR_QUERY_INVALID', 'name devices with device or with prefix, not both');
  }
  if (query.device !== undefined) {
    assertCovers(scope, query.device, reply);
    return query.device;
  }
  if (query.prefix === undefined) throw new TelemetryError('ERR_QUERY_INVALID', 'device or prefix is required');
  const latest = await Promise.all(
    scope
      .storePrefixes(query.prefix)
      .map((devicePrefix) => store.queryLatest(devicePrefix === undefined ? {} : { devicePrefix })),
  );
  const devices = latest.flat().flatMap((point) => (scope.allows(point.device) ? [point.device] : []));
  return [...new Set(devices)].sort();
}
