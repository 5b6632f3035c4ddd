import { addRegistryKey, type RegistryFileOptions, readRegistryFile } from '../../src/identity/registry-file.js';
import { UsageError } from '../command.js';
import type { SubcommandOption } from '../subcommand.js';
import type { SubcommandArgs } from '../subcommand-args.js';
import type { KeyFile } from './key-file.js';
import { failsAs } from './keys-failure.js';

/** `--if-missing`: what makes a set-up script (and the README) safe to run twice. */
export const IF_MISSING_OPTION: SubcommandOption = {
  name: 'if-missing',
  description:
    'Keep the key file when it exists instead of refusing; its public key is still added to the key set when missing there.',
};

/** Whether the command keeps an existing key file (`--if-missing`); refuses it together with `--force`. */
export function keepsExistingKey(args: SubcommandArgs): boolean {
  const keep = args.flag('if-missing');
  if (keep && args.flag('force')) throw new UsageError('--if-missing and --force contradict each other: pass one');
  return keep;
}

/**
 * Makes sure the public half of a kept key is in the JWKS file `jwks` and
 * resolves to the line the command prints about it.
 */
export async function publishKeptKey(jwks: string, key: KeyFile, options: RegistryFileOptions): Promise<string> {
  const { keys } = await failsAs(() => readRegistryFile(jwks, { ...options, missingOk: true }));
  if (keys.some((entry) => entry.kid === key.kid)) return `${jwks} (public key already there)`;
  await failsAs(() => addRegistryKey(jwks, key.jwk, options), `the key in ${key.path} was not published`);
  return `${jwks} (public key added)`;
}
