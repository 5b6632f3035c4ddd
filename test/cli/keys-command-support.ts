/**
 * Shared setup of the `telemetry keys` suites (keys-command*.test.ts): a fresh working directory per test, the CLI
 * run in-process in it, and readers of what it wrote. A suite calls {@link useKeysDir} once to register the hooks;
 * `dir` is a live binding those hooks assign.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect } from 'vitest';
import { runCli } from '../../cli/main.js';
import { DEFAULT_LIMITS, DeviceKeys, JwksRegistry, TelemetryError, verifyMessage } from '../../src/index.js';
import { type CliResult, capturingIo } from '../support/capturing-io.js';

/** The current test's working directory. */
export let dir: string;

export function useKeysDir(): void {
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keys-command-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
}

export async function cli(...argv: string[]): Promise<CliResult> {
  const { io, result } = capturingIo({ cwd: dir });
  return result(await runCli(['keys', ...argv], io));
}

/** Runs a command that must succeed and returns its stdout. */
export async function ok(...argv: string[]): Promise<string> {
  const result = await cli(...argv);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout;
}

export const readJson = async <T = Record<string, unknown>>(name: string): Promise<T> =>
  JSON.parse(await readFile(join(dir, name), 'utf8')) as T;

export async function registryKeys(name = 'registry.json'): Promise<DeviceKeys> {
  const registry = JwksRegistry.fromDocument(await readJson(name));
  return new DeviceKeys({ registry: () => registry });
}

export async function issuerSet(name: string): Promise<JwksRegistry> {
  return JwksRegistry.fromDocument(await readJson(name), name, { requireSub: false });
}

export const verifyWith = (keys: DeviceKeys, jws: string) =>
  verifyMessage(jws.trim(), { keys, limits: DEFAULT_LIMITS, now: Date.now });

export async function errorCode(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof TelemetryError)) throw new Error(`expected a TelemetryError, got ${String(error)}`);
  return error.code;
}
