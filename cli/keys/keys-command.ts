import type { Command } from '../command.js';
import { subcommandsCommand } from '../dispatch-subcommands.js';
import { type Subcommand, subcommandEntry } from '../subcommand.js';
import { generateSubcommand } from './generate.js';
import { issuerCreateSubcommand } from './issuer.js';
import { registryAddSubcommand, registryListSubcommand, registryRemoveSubcommand } from './registry.js';
import { connectTokenSubcommand, signSubcommand } from './sign.js';
import { credentialSubcommand, operatorTokenSubcommand } from './tokens.js';

const SUBCOMMANDS: readonly Subcommand[] = [
  generateSubcommand,
  registryAddSubcommand,
  registryRemoveSubcommand,
  registryListSubcommand,
  issuerCreateSubcommand,
  credentialSubcommand,
  operatorTokenSubcommand,
  signSubcommand,
  connectTokenSubcommand,
];

/**
 * `telemetry keys`: device and issuer keys, the device key registry, device
 * credentials, operator tokens, and signed messages and connection tokens for
 * trying a node by hand. A subcommand's KeysFailure is printed as one line, exit code 1.
 *
 * @example
 * await runCli(['keys', 'generate', '--device', 'boiler-7', '--registry', 'registry.json'], io);
 */
export const keysCommand: Command = subcommandsCommand({
  command: 'keys',
  summary: 'Generate device and issuer keys, manage a key registry, issue credentials and tokens',
  groups: {
    registry: 'Manage a JWKS registry of device public keys: add a key, remove (revoke) keys, list them',
    issuer: 'Create the issuer keys that sign device credentials (fleet) and operator tokens (operator)',
  },
  subcommands: SUBCOMMANDS.map((subcommand) => subcommandEntry('keys', subcommand)),
});
