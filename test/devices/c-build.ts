/**
 * Builds devices/c with its Makefile into a temporary folder and runs its programs, for the suites under
 * test/devices. Needs gcc, make, libmbedtls-dev, libsodium-dev, libcurl4-openssl-dev and libmosquitto-dev
 * (scripts/install-test-deps.sh); the Makefile builds with -std=c99 -pedantic -Wall -Wextra -Werror.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const C_DIR = fileURLToPath(new URL('../../devices/c/', import.meta.url));
export const run = promisify(execFile);

/** A build of devices/c: `dir` for plain programs and objects, `sanitized` for the ASan/UBSan ones. */
export interface CBuild {
  readonly dir: string;
  readonly sanitized: string;
  remove(): Promise<void>;
}

/** Runs `make <targets>` twice into a new temporary folder: plainly, and with SANITIZE=1 into `sanitized/`. */
export async function buildC(targets: readonly string[]): Promise<CBuild> {
  const dir = await mkdtemp(join(tmpdir(), 'devices-c-'));
  const sanitized = join(dir, 'sanitized');
  const make = (build: string, ...args: string[]) =>
    run('make', ['-C', C_DIR, `BUILD=${build}`, ...args, ...targets.map((t) => join(build, t))], {
      maxBuffer: 16 * 1024 * 1024,
    });
  await make(dir);
  await make(sanitized, 'SANITIZE=1');
  return { dir, sanitized, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs a program of the build and returns what it printed; fails with its output when it exits non-zero. */
export async function program(path: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  try {
    return (await run(path, args, { env: { ...process.env, ...env }, timeout: 120_000 })).stdout;
  } catch (error) {
    const { stdout, stderr, code } = error as { stdout?: string; stderr?: string; code?: unknown };
    throw new Error(`${path} exited with ${String(code)}:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/** Runs a program of the build to its end and returns its exit code and output, whatever the code. */
export async function programExit(path: string, args: readonly string[]) {
  try {
    const { stdout } = await run(path, args, { timeout: 120_000 });
    return { code: 0, stdout };
  } catch (error) {
    const { stdout, code } = error as { stdout?: string; code?: unknown };
    return { code: typeof code === 'number' ? code : -1, stdout: stdout ?? '' };
  }
}
