import { join } from 'node:path';
import { generateKey, newKeyId } from '../../src/identity/generate-key.js';
import { addRegistryKey, readRegistryFile } from '../../src/identity/registry-file.js';
import { DEVICE_ID_PATTERN, isDeviceId } from '../../src/protocol/names.js';
import { UsageError } from '../command.js';
import type { Subcommand } from '../subcommand.js';
import { IF_MISSING_OPTION, keepsExistingKey, publishKeptKey } from './keep-or-create.js';
import { existingKeyFile, writeSecretFile } from './key-file.js';
import { failsAs, KeysFailure } from './keys-failure.js';

/** `telemetry keys generate`: a device key pair, its private JWK in a file, its public JWK optionally registered. */
export const generateSubcommand: Subcommand = {
  name: 'generate',
  summary: 'Generate a device key pair and optionally add its public key to a registry',
  details: [
    'The private JWK (kid <device>.<8 hex>, alg, sub = device id, use, key) goes to DIR/<device>.key.json, ' +
      'readable by its owner only. Copy it to the device; keep no other copies.',
  ],
  options: [
    { name: 'device', value: 'ID', description: 'The device id (letters, digits, ".", "_", "-").', required: true },
    { name: 'alg', value: 'ALG', description: 'Signature algorithm: ES256 or EdDSA.', default: 'ES256' },
    { name: 'out', value: 'DIR', description: 'Folder for the private key file.', default: 'keys' },
    {
      name: 'registry',
      value: 'FILE',
      description: 'Also add the public key to this JWKS registry file (created when missing).',
    },
    { name: 'force', description: 'Replace an existing key file.' },
    IF_MISSING_OPTION,
  ],
  example: 'telemetry keys generate --device boiler-7 --registry registry.json',
  async run(args, io) {
    const device = args.string('device');
    if (!isDeviceId(device)) {
      throw new UsageError(`--device ${JSON.stringify(device)} is not a valid device id (${DEVICE_ID_PATTERN.source})`);
    }
    const alg = args.alg();
    const keyPath = join(args.path('out'), `${device}.key.json`);
    const registry = args.optionalPath('registry');
    const kept = keepsExistingKey(args)
      ? await existingKeyFile(keyPath, 'device key file', { private: true, device: true })
      : undefined;
    if (kept !== undefined) {
      if (kept.device !== device)
        throw new KeysFailure(`${keyPath} holds a key of device ${kept.device}, not ${device}`);
      io.stdout(
        [
          `kid       ${kept.kid}`,
          `device    ${device}`,
          `alg       ${kept.alg}`,
          `key file  ${keyPath} (kept: it exists)`,
          ...(registry === undefined ? [] : [`registry  ${await publishKeptKey(registry, kept, {})}`]),
          '',
        ].join('\n'),
      );
      return;
    }
    // Check the registry before writing anything, so a bad registry leaves no orphaned key file.
    if (registry !== undefined) await failsAs(() => readRegistryFile(registry, { missingOk: true }));
    const kid = newKeyId(device);
    const { privateJwk, publicJwk } = await generateKey(alg, kid, device);
    await writeSecretFile(keyPath, `${JSON.stringify(privateJwk, null, 2)}\n`, { replace: args.flag('force') });
    if (registry !== undefined) {
      await failsAs(() => addRegistryKey(registry, publicJwk), `the key is in ${keyPath} but was not registered`);
    }
    io.stdout(
      [
        `kid       ${kid}`,
        `device    ${device}`,
        `alg       ${alg}`,
        `key file  ${keyPath} (private, mode 0600)`,
        ...(registry === undefined ? [] : [`registry  ${registry} (public key added)`]),
        '',
      ].join('\n'),
    );
  },
};
