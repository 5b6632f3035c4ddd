import { type ParseArgsConfig, parseArgs } from 'node:util';

/** What a command may touch of the outside world; tests pass their own. */
export interface CommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** The terminal's width when stdout is one; help is wrapped to it (to 80 columns when absent). */
  readonly columns?: number;
}

/** A `telemetry` subcommand. `run` resolves to the process exit code. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** The full `--help` text, wrapped to `io.columns` where it has long rows. */
  help(io: CommandIo): string;
  run(argv: readonly string[], io: CommandIo): Promise<number>;
}

/** Raised for bad command-line usage: printed with a hint to --help, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * A command failed for a reason outside the command line, such as a missing
 * file or a node that cannot be reached: printed as one line on stderr, exit
 * code 1. Each command has its own (KeysFailure, QueryFailure).
 */
export class CommandFailure extends Error {
  override readonly name: string = 'CommandFailure';
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs in strict mode, turning its errors (by their code) into UsageErrors. */
export function parseCommandArgs<T extends Options>(argv: readonly string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) throw new UsageError((error as Error).message);
    throw error;
  }
}

/** The value of a required string option, or a UsageError naming it. */
export function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}
