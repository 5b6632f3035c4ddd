import { readFileSync } from 'node:fs';

/** The package's name, to tell its package.json from any other on the way up. */
const PACKAGE_NAME = 'telemetry-ingest';

/**
 * The version in the package's package.json, found by walking up from this
 * module (ingest/ when run with tsx, dist/ingest/ when built), or "unknown".
 */
export function packageVersion(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // No package.json here (or not JSON): look one folder up.
    }
    if (new URL('../', dir).href === dir.href) return 'unknown';
  }
}
