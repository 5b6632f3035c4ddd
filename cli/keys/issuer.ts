import { generateKey, newKeyId } from '../../src/identity/generate-key.js';
import { addRegistryKey, readRegistryFile } from '../../src/identity/registry-file.js';
import { isKeyId } from '../../src/protocol/names.js';
import { UsageError } from '../command.js';
import type { Subcommand } from '../subcommand.js';
import { IF_MISSING_OPTION, keepsExistingKey, publishKeptKey } from './keep-or-create.js';
import { existingKeyFile, writeSecretFile } from './key-file.js';
import { failsAs } from './keys-failure.js';

/** Issuer key sets name no device. */
const ISSUER_SET = { requireSub: false } as const;

/** `telemetry keys issuer create`: a fleet or operator issuer key pair. */
export const issuerCreateSubcommand: Subcommand = {
  name: 'issuer create',
  summary: 'Create a fleet or operator issuer key pair',
  details: [
    'A fleet issuer signs device credentials; an operator issuer signs operator tokens for the query API. ' +
      'The private JWK goes to FILE, readable by its owner only. With --jwks the public key is appended to ' +
      'that JWKS of trusted issuer keys (created when missing): keep the old key there while devices move ' +
      'to credentials from the new one, then remove it.',
  ],
  options: [
    { name: 'out', value: 'FILE', description: 'Where to write the private issuer JWK.', required: true },
    { name: 'alg', value: 'ALG', description: 'Signature algorithm: ES256 or EdDSA.', default: 'ES256' },
    { name: 'kid', value: 'KID', description: 'The key id.', defaultText: 'issuer.<8 hex>' },
    { name: 'jwks', value: 'FILE', description: 'Also append the public key to this issuer JWKS file.' },
    { name: 'force', description: 'Replace an existing private key file.' },
    IF_MISSING_OPTION,
  ],
  example: 'telemetry keys issuer create --out secrets/fleet.key.json --jwks issuers.json',
  async run(args, io) {
    const out = args.path('out');
    const alg = args.alg();
    const kid = args.optional('kid') ?? newKeyId('issuer');
    if (!isKeyId(kid)) throw new UsageError(`--kid ${JSON.stringify(kid)} must match ^[A-Za-z0-9._:-]{1,128}$`);
    const jwks = args.optionalPath('jwks');
    const kept = keepsExistingKey(args)
      ? await existingKeyFile(out, 'issuer key file', { private: true, device: false })
      : undefined;
    if (kept !== undefined) {
      io.stdout(
        [
          `kid       ${kept.kid}`,
          `alg       ${kept.alg}`,
          `key file  ${out} (kept: it exists)`,
          ...(jwks === undefined ? [] : [`jwks      ${await publishKeptKey(jwks, kept, ISSUER_SET)}`]),
          '',
        ].join('\n'),
      );
      return;
    }
    if (jwks !== undefined) {
      const { keys } = await failsAs(() => readRegistryFile(jwks, { ...ISSUER_SET, missingOk: true }));
      if (keys.some((key) => key.kid === kid)) throw new UsageError(`--kid ${kid} is already in ${jwks}`);
    }
    const { privateJwk, publicJwk } = await generateKey(alg, kid);
    await writeSecretFile(out, `${JSON.stringify(privateJwk, null, 2)}\n`, { replace: args.flag('force') });
    if (jwks !== undefined) {
      await failsAs(() => addRegistryKey(jwks, publicJwk, ISSUER_SET), `the key is in ${out} but was not published`);
    }
    io.stdout(
      [
        `kid       ${kid}`,
        `alg       ${alg}`,
        `key file  ${out} (private, mode 0600)`,
        ...(jwks === undefined ? [] : [`jwks      ${jwks} (public key added)`]),
        '',
      ].join('\n'),
    );
  },
};
