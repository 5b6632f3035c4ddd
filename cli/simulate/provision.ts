import { DEVICE_KINDS, type FleetAlgorithm, type FleetKeySource, provisionFleet } from '../../simulator/index.js';
import { UsageError } from '../command.js';
import type { Subcommand } from '../subcommand.js';
import { positiveInteger } from './option-readers.js';

/** `telemetry simulate provision`: a fleet's keys, registry or issuer and credentials, and its fleet.json. */
export const provisionSubcommand: Subcommand<number> = {
  name: 'provision',
  summary: 'Create a fleet of simulated devices: keys, registry, issuer and credentials, fleet.json',
  details: [
    'Writes DIR/fleet.json, DIR/keys/<id>.key.json (mode 0600), and DIR/registry.jwks.json for ' +
      'TELEMETRY_KEY_REGISTRY and/or DIR/issuers.jwks.json (TELEMETRY_CREDENTIAL_ISSUERS), DIR/issuer.key.json and ' +
      'DIR/credentials/<id>.jwt. Device ids are sim-<kind>-<00000>. With --seed every key is derived from the seed ' +
      '(HMAC-SHA256(seed, device id)), so the same options give the same files (credentials: the same day). ' +
      'With --key-source both, even devices use the registry and odd ones a credential. Kinds: ' +
      `${[...DEVICE_KINDS.keys()].join(', ')}.`,
  ],
  options: [
    { name: 'devices', value: 'N', description: 'How many devices.', required: true },
    { name: 'out', value: 'DIR', description: 'The fleet folder (created; files in it replaced).', required: true },
    { name: 'alg', value: 'ALG', description: 'ES256, EdDSA, or mixed (alternating).', default: 'ES256' },
    { name: 'seed', value: 'S', description: 'Derive every key from this secret seed.', defaultText: 'random keys' },
    {
      name: 'kinds',
      value: 'LIST',
      description: 'Device kinds, comma-separated, assigned in turn.',
      default: 'thermo',
    },
    { name: 'key-source', value: 'SRC', description: 'registry, credentials or both.', default: 'registry' },
    { name: 'credential-ttl', value: 'DURATION', description: 'Lifetime of the credentials.', default: '30d' },
  ],
  example: 'telemetry simulate provision --devices 1000 --out fleet --alg mixed --kinds thermo,meter,gps --seed demo',
  async run(args, io) {
    const devices = positiveInteger(args, 'devices', 0, 100_000);
    const alg = args.string('alg');
    if (alg !== 'ES256' && alg !== 'EdDSA' && alg !== 'mixed')
      throw new UsageError('--alg must be ES256, EdDSA or mixed');
    const kinds = args
      .string('kinds')
      .split(',')
      .map((k) => k.trim());
    const unknown = kinds.filter((k) => !DEVICE_KINDS.has(k));
    if (unknown.length > 0) {
      throw new UsageError(
        `--kinds: unknown kind ${unknown.join(', ')} (known: ${[...DEVICE_KINDS.keys()].join(', ')})`,
      );
    }
    const keySource = args.string('key-source');
    if (keySource !== 'registry' && keySource !== 'credentials' && keySource !== 'both') {
      throw new UsageError('--key-source must be registry, credentials or both');
    }
    const dir = args.path('out');
    const seed = args.optional('seed');
    const { manifest } = await provisionFleet({
      dir,
      devices,
      alg: alg as FleetAlgorithm,
      kinds,
      keySource: keySource as FleetKeySource,
      ...(seed === undefined ? {} : { seed }),
      credentialTtlSeconds: args.seconds('credential-ttl'),
      // Credentials issued at the start of the day (UTC), so the same seed gives the same files all day.
      now: Math.floor(Date.now() / 86_400_000) * 86_400_000,
    });
    // The folder as the user named it, so the settings printed can be pasted into the same shell.
    const shown = args.string('out').replace(/(.)\/+$/, '$1');
    io.stdout(
      [
        `provisioned ${manifest.devices.length} devices (${kinds.join(', ')}, ${alg}) in ${shown}`,
        ...(manifest.registryFile === undefined ? [] : [`  TELEMETRY_KEY_REGISTRY=${shown}/${manifest.registryFile}`]),
        ...(manifest.issuersFile === undefined
          ? []
          : [`  TELEMETRY_CREDENTIAL_ISSUERS=${shown}/${manifest.issuersFile}`]),
        '',
      ].join('\n'),
    );
    return 0;
  },
};
