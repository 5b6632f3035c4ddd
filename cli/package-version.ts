import { readFile } from 'node:fs/promises';

/**
 * The version in the package's package.json, found by walking up from this
 * file: `cli/` when run from the sources, `dist/cli/` when built.
 */
export async function packageVersion(): Promise<string> {
  for (const up of ['../', '../../']) {
    try {
      const json: unknown = JSON.parse(await readFile(new URL(`${up}package.json`, import.meta.url), 'utf8'));
      if (typeof json === 'object' && json !== null && 'version' in json && typeof json.version === 'string') {
        return json.version;
      }
    } catch {
      // Not at this level: look one further up.
    }
  }
  return 'unknown';
}
