import { parseDuration } from '../../src/config/parse-duration.js';
import { UsageError } from '../command.js';
import type { SubcommandArgs } from '../subcommand-args.js';

// Option readers the simulate subcommands share, beyond those of SubcommandArgs.

/** A duration option (`500ms` is not one; `0`, `45s`, `15m`) in milliseconds. */
export function durationMs(args: SubcommandArgs, name: string): number {
  const text = args.string(name);
  const seconds = parseDuration(text);
  if (seconds === undefined)
    throw new UsageError(`--${name} must be a duration such as 0, 10s, 5m or 1h, got ${JSON.stringify(text)}`);
  return seconds * 1000;
}

/** A number option within [min, max]. */
export function numberOption(args: SubcommandArgs, name: string, min: number, max: number): number {
  const text = args.string(name);
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || value < min || value > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** A whole number option from 1 to `max`, or `fallback` when absent. */
export function positiveInteger(args: SubcommandArgs, name: string, fallback: number, max: number): number {
  const value = args.integer(name, fallback);
  if (value < 1 || value > max) throw new UsageError(`--${name} must be from 1 to ${max}, got ${value}`);
  return value;
}
