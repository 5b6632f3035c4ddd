import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { listBridgeSettings } from '../../bridge/settings/bridge-settings.js';

/** The rows of docs/BRIDGE.md's settings table: variable, flag, default. */
async function documentedSettings(): Promise<{ env: string; flag: string; default: string }[]> {
  const doc = await readFile(new URL('../../docs/BRIDGE.md', import.meta.url), 'utf8');
  const table = doc.slice(doc.indexOf('<!-- bridge-settings:start -->'), doc.indexOf('<!-- bridge-settings:end -->'));
  return table
    .split('\n')
    .filter((line) => line.startsWith('| `TELEMETRY_BRIDGE_'))
    .map((line) => {
      const [env = '', flag = '', def = ''] = line
        .split('|')
        .slice(1, 4)
        .map((cell) => cell.trim().replaceAll('`', ''));
      return { env, flag, default: def };
    });
}

describe("docs/BRIDGE.md's settings table", () => {
  it('lists every bridge setting, in schema order, with its flag and default', async () => {
    const expected = listBridgeSettings().map((s) => ({
      env: s.env,
      flag: `--${s.flag}`,
      default: s.default === '' ? '(none)' : String(s.default),
    }));
    expect(await documentedSettings()).toEqual(expected);
  });
});
