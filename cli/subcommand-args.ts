import { resolve } from 'node:path';
import { parseDuration } from '../src/config/parse-duration.js';
import { type DeviceAlgorithm, isDeviceAlgorithm } from '../src/protocol/device-algorithm.js';
import { required, UsageError } from './command.js';

/** Option values as parseArgs returns them. */
export type OptionValues = Readonly<Record<string, string | boolean | ReadonlyArray<string | boolean> | undefined>>;

/**
 * The parsed options of one subcommand, read by name with the checks the
 * subcommands share; every bad value is a UsageError naming its option.
 */
export class SubcommandArgs {
  readonly #values: OptionValues;
  readonly #cwd: string;

  constructor(values: OptionValues, cwd: string) {
    this.#values = values;
    this.#cwd = cwd;
  }

  /** A required string option. */
  string(name: string): string {
    return required(this.#values, name);
  }

  /** An optional string option, undefined when absent. */
  optional(name: string): string | undefined {
    const value = this.#values[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} needs a value`);
    return value;
  }

  /** Whether a boolean flag was given. */
  flag(name: string): boolean {
    return this.#values[name] === true;
  }

  /** Every value of a repeatable string option. */
  list(name: string): string[] {
    const value = this.#values[name];
    if (value === undefined) return [];
    const values = Array.isArray(value) ? value : [value];
    return values.filter((item): item is string => typeof item === 'string');
  }

  /** A required path option, resolved against the working folder. */
  path(name: string): string {
    return resolve(this.#cwd, this.string(name));
  }

  /** An optional path option, resolved against the working folder. */
  optionalPath(name: string): string | undefined {
    const value = this.optional(name);
    return value === undefined ? undefined : resolve(this.#cwd, value);
  }

  /** A duration option (`45s`, `15m`, `12h`, `30d`) in whole seconds, at least one. */
  seconds(name: string): number {
    const text = this.string(name);
    const seconds = parseDuration(text);
    if (seconds === undefined || seconds < 1) {
      throw new UsageError(`--${name} must be a duration such as 90s, 15m, 12h or 30d, got ${JSON.stringify(text)}`);
    }
    return seconds;
  }

  /** The signature algorithm option. */
  alg(name = 'alg'): DeviceAlgorithm {
    const value = this.string(name);
    if (!isDeviceAlgorithm(value))
      throw new UsageError(`--${name} must be ES256 or EdDSA, got ${JSON.stringify(value)}`);
    return value;
  }

  /** A whole number option from 0 to 2^53-1, or `fallback` when absent. */
  integer(name: string, fallback: number): number {
    const text = this.optional(name);
    if (text === undefined) return fallback;
    const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(value)) {
      throw new UsageError(`--${name} must be a whole number from 0 to 2^53-1, got ${JSON.stringify(text)}`);
    }
    return value;
  }
}
