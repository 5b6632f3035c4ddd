import { CommandFailure } from '../command.js';

/**
 * A `telemetry keys` subcommand failed for a reason the user can fix, such as a
 * missing or malformed key file: printed as one line on stderr, exit code 1.
 * Messages name files and members, never key material.
 */
export class KeysFailure extends CommandFailure {
  override readonly name = 'KeysFailure';
}

/**
 * Runs `step`, turning whatever it throws into a KeysFailure with the same
 * message, prefixed by `context` when given. Only wrap steps whose error
 * messages are known to hold no key material.
 */
export async function failsAs<T>(step: () => Promise<T>, context?: string): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof KeysFailure) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new KeysFailure(context === undefined ? reason : `${context}: ${reason}`, { cause: error });
  }
}
