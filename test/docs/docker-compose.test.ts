import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { listSettings, parseConfig } from '../../src/config/parse-config.js';

const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');

describe('docker-compose.yml', () => {
  it('sets only TELEMETRY_ variables that are real settings, with values the config parser accepts', () => {
    const known = new Set(listSettings().map((s) => s.schema.env));
    const pairs = [...compose.matchAll(/^\s+(TELEMETRY_[A-Z0-9_]+):\s*"?([^"\n]*)"?\s*$/gm)].map(
      (m): [string, string] => [m[1] ?? '', m[2] ?? ''],
    );
    expect(pairs.length).toBeGreaterThan(5);
    expect(pairs.map(([name]) => name).filter((name) => !known.has(name))).toEqual([]);
    expect(() => parseConfig(Object.fromEntries(pairs))).not.toThrow();
  });
});
