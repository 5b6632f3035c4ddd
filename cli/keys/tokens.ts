import { issueCredential } from '../../src/identity/issue-credential.js';
import { isOperatorScope, issueOperatorToken } from '../../src/identity/operator-token.js';
import { UsageError } from '../command.js';
import type { Subcommand, SubcommandOption } from '../subcommand.js';
import { readKeyFile, writeSecretFile } from './key-file.js';
import { failsAs } from './keys-failure.js';

const ISSUER_OPTION: SubcommandOption = {
  name: 'issuer',
  value: 'FILE',
  description: 'The private issuer key file (from "keys issuer create").',
  required: true,
};

/** `telemetry keys credential`: a device credential from a fleet issuer. */
export const credentialSubcommand: Subcommand = {
  name: 'credential',
  summary: "Issue a device credential binding a device's public key to its id",
  details: [
    'Nodes that trust the issuer (its public key in their issuer JWKS) accept the device without a registry. ' +
      'The device id comes from the key file\'s "sub"; the key file may hold the public or the private JWK.',
  ],
  options: [
    ISSUER_OPTION,
    { name: 'key', value: 'FILE', description: 'The device key file (JWK with kid, alg, sub).', required: true },
    {
      name: 'ttl',
      value: 'DURATION',
      description: 'How long the credential is valid (90s, 15m, 12h, 30d).',
      default: '30d',
    },
    {
      name: 'out',
      value: 'FILE',
      description: 'Write the credential to this file (mode 0600; replaced if present) instead of stdout.',
    },
  ],
  example: 'telemetry keys credential --issuer secrets/fleet.key.json --key keys/boiler-7.key.json --out boiler-7.jwt',
  async run(args, io) {
    const lifetimeSeconds = args.seconds('ttl');
    const out = args.optionalPath('out');
    const issuer = await readKeyFile(args.path('issuer'), 'issuer key file', { private: true, device: false });
    const key = await readKeyFile(args.path('key'), 'device key file', { private: false, device: true });
    const device = key.device ?? '';
    const credential = await failsAs(
      () => issueCredential({ issuerKey: issuer.jwk, device, deviceKey: key.jwk, lifetimeSeconds, now: Date.now() }),
      'cannot issue the credential',
    );
    if (out === undefined) {
      io.stdout(`${credential}\n`);
      return;
    }
    await writeSecretFile(out, `${credential}\n`, { replace: true });
    io.stdout(`credential for ${device} (valid ${args.string('ttl')}) written to ${out}\n`);
  },
};

/** `telemetry keys operator-token`: a token for the query API. */
export const operatorTokenSubcommand: Subcommand = {
  name: 'operator-token',
  summary: 'Issue an operator token for the query API',
  details: [
    'SCOPE is a space-separated list of: read (every device), read:device:<id>, read:prefix:<device id prefix>. ' +
      "Nodes accept the token when the issuer's public key is in their operator issuer JWKS.",
  ],
  options: [
    { ...ISSUER_OPTION, description: 'The private operator issuer key file (from "keys issuer create").' },
    { name: 'scope', value: 'SCOPE', description: 'What the token may read.', required: true },
    { name: 'subject', value: 'NAME', description: 'Who the token is for (the "sub" claim).', default: 'operator' },
    { name: 'ttl', value: 'DURATION', description: 'How long the token is valid (90s, 15m, 12h, 30d).', default: '1h' },
  ],
  example: "telemetry keys operator-token --issuer secrets/operator.key.json --scope 'read:prefix:boiler-' --ttl 8h",
  async run(args, io) {
    const scope = args.string('scope');
    if (!isOperatorScope(scope)) {
      throw new UsageError(
        `--scope ${JSON.stringify(scope)} must be space-separated read, read:device:<id> or read:prefix:<prefix>`,
      );
    }
    const subject = args.string('subject');
    const lifetimeSeconds = args.seconds('ttl');
    const issuer = await readKeyFile(args.path('issuer'), 'issuer key file', { private: true, device: false });
    const token = await failsAs(
      () => issueOperatorToken({ issuerKey: issuer.jwk, subject, scope, lifetimeSeconds, now: Date.now() }),
      'cannot issue the operator token',
    );
    io.stdout(`${token}\n`);
  },
};
