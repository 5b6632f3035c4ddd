import type { RegistryKey } from '../../src/identity/jwks-registry.js';
import { addRegistryKey, readRegistryFile, removeRegistryKeys } from '../../src/identity/registry-file.js';
import { isDeviceId, isKeyId } from '../../src/protocol/names.js';
import { UsageError } from '../command.js';
import type { Subcommand, SubcommandOption } from '../subcommand.js';
import { readKeyFile } from './key-file.js';
import { failsAs, KeysFailure } from './keys-failure.js';

const REGISTRY_OPTION: SubcommandOption = {
  name: 'registry',
  value: 'FILE',
  description: 'The JWKS registry file of device public keys.',
  required: true,
};

/** `telemetry keys registry add`: registers the public half of a device key file. */
export const registryAddSubcommand: Subcommand = {
  name: 'registry add',
  summary: 'Add the public half of a device key file to a registry',
  details: [
    'The key file may hold the public or the private JWK (with kid, alg and sub); only the public members ' +
      'are written. The registry is created when missing; a kid it already holds is refused.',
  ],
  options: [
    REGISTRY_OPTION,
    { name: 'key', value: 'FILE', description: 'The device key file (JWK with kid, alg, sub).', required: true },
  ],
  example: 'telemetry keys registry add --registry registry.json --key keys/boiler-7.key.json',
  async run(args, io) {
    const registry = args.path('registry');
    const key = await readKeyFile(args.path('key'), 'device key file', { private: false, device: true });
    const added = await failsAs(() => addRegistryKey(registry, key.jwk));
    io.stdout(`added ${added.kid} (device ${added.sub}, ${added.alg}) to ${registry}\n`);
  },
};

/** `telemetry keys registry remove`: revokes one key or every key of a device. */
export const registryRemoveSubcommand: Subcommand = {
  name: 'registry remove',
  summary: 'Remove one key, or every key of a device, from a registry',
  details: [
    'This is how a device is revoked: nodes stop accepting its messages at their next registry refresh. ' +
      'Give exactly one of --kid and --device; it is an error when nothing matches.',
  ],
  usage: '--registry FILE (--kid KID | --device ID)',
  options: [
    REGISTRY_OPTION,
    { name: 'kid', value: 'KID', description: 'Remove the key with this kid.' },
    { name: 'device', value: 'ID', description: 'Remove every key of this device.' },
  ],
  example: 'telemetry keys registry remove --registry registry.json --device boiler-7',
  async run(args, io) {
    const registry = args.path('registry');
    const kid = args.optional('kid');
    const device = args.optional('device');
    if ((kid === undefined) === (device === undefined)) throw new UsageError('give exactly one of --kid and --device');
    if (kid !== undefined && !isKeyId(kid)) throw new UsageError(`--kid ${JSON.stringify(kid)} is not a valid kid`);
    if (device !== undefined && !isDeviceId(device)) {
      throw new UsageError(`--device ${JSON.stringify(device)} is not a valid device id`);
    }
    const match = kid === undefined ? { device: device ?? '' } : { kid };
    const removed = await failsAs(() => removeRegistryKeys(registry, match));
    if (removed.length === 0) {
      const what = kid === undefined ? `no key of device ${device}` : `no key with kid ${kid}`;
      throw new KeysFailure(`${registry} holds ${what}; nothing was removed`);
    }
    io.stdout(removed.map((key) => `removed ${key.kid} (device ${key.sub}) from ${registry}\n`).join(''));
  },
};

function table(keys: readonly RegistryKey[]): string {
  const rows = [['KID', 'DEVICE', 'ALG'], ...keys.map((key) => [key.kid, key.sub, key.alg])];
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  return rows
    .map((row) => `${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')}`.trimEnd())
    .join('\n');
}

/** `telemetry keys registry list`: the registry's keys as a table or JSON. */
export const registryListSubcommand: Subcommand = {
  name: 'registry list',
  summary: 'List the keys of a registry: kid, device, alg',
  options: [REGISTRY_OPTION, { name: 'json', description: 'Print a JSON array of {kid, device, alg} instead.' }],
  example: 'telemetry keys registry list --registry registry.json',
  async run(args, io) {
    const registry = args.path('registry');
    const { keys } = await failsAs(() => readRegistryFile(registry));
    if (args.flag('json')) {
      const rows = keys.map((key) => ({ kid: key.kid, device: key.sub, alg: key.alg }));
      io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
    } else {
      io.stdout(keys.length === 0 ? `${registry} holds no keys\n` : `${table(keys)}\n`);
    }
  },
};
