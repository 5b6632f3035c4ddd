import { execFile } from 'node:child_process';
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

/** The checkout's root folder. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where {@link buildForBench} compiles the node (inside node_modules, so the compiled files find the packages). */
export const BUILT_DIR = join(ROOT, 'node_modules/.cache/telemetry-bench');

/**
 * How a measured process runs: `built` is plain node on JavaScript compiled by tsc (what production
 * runs; no loader in the process), `tsx` is node with tsx's loader on the sources (no build step,
 * for the quick mode and tests; the loader costs start-up time, not steady-state CPU).
 */
export type NodeRuntime = 'built' | 'tsx';

/** The runtime the suite runner chose (TELEMETRY_BENCH_RUNTIME), `tsx` when run on its own without a build. */
export function benchRuntime(): NodeRuntime {
  return process.env.TELEMETRY_BENCH_RUNTIME === 'built' && existsSync(join(BUILT_DIR, 'cli/bin.js')) ? 'built' : 'tsx';
}

/**
 * Compiles src/, ingest/, simulator/, the naive baseline server and the transport floor servers into
 * {@link BUILT_DIR} with bench/tsconfig.build.json (incremental: a second build is quick), plus the
 * dashboard's static files.
 */
export async function buildForBench(): Promise<void> {
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  await promisify(execFile)(
    process.execPath,
    [
      tsc,
      '-p',
      join(ROOT, 'bench/tsconfig.build.json'),
      '--outDir',
      BUILT_DIR,
      '--tsBuildInfoFile',
      join(BUILT_DIR, 'tsbuildinfo'),
    ],
    { cwd: ROOT },
  );
  cpSync(join(ROOT, 'ingest/dashboard/static'), join(BUILT_DIR, 'ingest/dashboard/static'), { recursive: true });
}

/** The node arguments that run the TypeScript module `relativePath` (from the checkout root) in `runtime`. */
export function scriptArgs(relativePath: string, runtime: NodeRuntime): string[] {
  if (runtime === 'built') return [join(BUILT_DIR, relativePath.replace(/\.ts$/, '.js'))];
  return ['--import', pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href, join(ROOT, relativePath)];
}
