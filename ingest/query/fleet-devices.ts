import type { FastifyReply } from 'fastify';
import { TelemetryError } from '../../src/errors.js';
import type { ReadScope } from '../../src/query/read-scope.js';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';
import { assertCovers } from './query-request.js';

/**
 * The devices a readings or windows query is about: the `device` list as named (each must be in the token's
 * scope, or ERR_FORBIDDEN), or, for `prefix`, every stored device whose id starts with it and that the scope
 * covers, found with the same per-prefix store queries as `/latest` (so a narrow token never makes the store
 * read every device). Exactly one of the two must be given.
 */
export async function fleetDevices(
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
