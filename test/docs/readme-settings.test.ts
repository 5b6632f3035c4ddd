import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { listSettings } from '../../src/config/parse-config.js';

/** The rows of the settings table under README.md's `## Configuration`: each row's setting names and defaults. */
async function readmeSettingsTable(): Promise<{ names: string[]; defaults: string[] }[]> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Configuration\n'));
  const table = section.slice(0, section.indexOf('\n## ', 1)).split('\n');
  return table
    .filter((line) => line.startsWith('| `TELEMETRY_'))
    .map((line) => {
      const [names = '', defaults = ''] = line.split('|').slice(1, 3);
      return {
        names: [...names.matchAll(/`(TELEMETRY_[A-Z0-9_]+)`/g)].map((m) => m[1] ?? ''),
        defaults: defaults.split(',').map((d) => d.trim()),
      };
    });
}

/** How the README writes a schema default: an empty string as (none) or —. */
function readmeDefault(value: unknown): readonly string[] {
  return value === '' ? ['(none)', '—'] : [String(value)];
}

describe("README.md's Configuration table", () => {
  it('names only real settings, each with its default from the schema', async () => {
    const settings = new Map(listSettings().map(({ schema }) => [schema.env, schema.default]));
    const rows = await readmeSettingsTable();
    expect(rows.length).toBeGreaterThan(10);
    for (const { names, defaults } of rows) {
      for (const [index, name] of names.entries()) {
        expect(settings.has(name), `${name} is a setting`).toBe(true);
        // One default for several settings means they share it.
        const written = defaults.length === 1 ? defaults[0] : defaults[index];
        expect(readmeDefault(settings.get(name)), `the default of ${name}`).toContain(written);
      }
    }
  });

  it('lists every store setting, in full or by its suffix after TELEMETRY_INFLUX (`_TOKEN`)', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('\n## Configuration\n'), readme.indexOf('\n## Operations\n'));
    const missing = listSettings()
      .map(({ schema }) => schema.env)
      .filter((env) => /^TELEMETRY_(STORE|INFLUX_)/.test(env) && env !== 'TELEMETRY_INFLUX_QUERY')
      .filter((env) => !table.includes(`\`${env}\``) && !table.includes(`\`${env.replace('TELEMETRY_INFLUX', '')}\``));
    expect(missing).toEqual([]);
  });
});
