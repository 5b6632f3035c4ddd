import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { cli, dir, ok, readJson, useKeysDir } from './keys-command-support.js';

useKeysDir();

describe('telemetry keys with bad files', () => {
  it('fails with one line when a key file is missing', async () => {
    const { code, stdout, stderr } = await cli('sign', '--key', 'nope.json', '--value', 'a=1');
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(stderr).toBe(
      `telemetry keys sign: cannot read the device key file ${join(dir, 'nope.json')}: no such file\n`,
    );
  });

  it('fails without quoting the file when a key file is not JSON', async () => {
    await writeFile(join(dir, 'broken.json'), '{"d": "PRIVATE-BITS", ');
    const { code, stderr } = await cli('connect-token', '--key', 'broken.json');
    expect(code).toBe(1);
    expect(stderr).toBe(
      `telemetry keys connect-token: the device key file ${join(dir, 'broken.json')} is not valid JSON\n`,
    );
  });

  it('fails when a public key is given where a private one is needed', async () => {
    await ok('generate', '--device', 'alice', '--registry', 'registry.json');
    const { keys } = await readJson<{ keys: JWK[] }>('registry.json');
    await writeFile(join(dir, 'public.json'), JSON.stringify(keys[0]));
    const signed = await cli('sign', '--key', 'public.json', '--value', 'a=1');
    expect(signed.code).toBe(1);
    expect(signed.stderr).toContain('holds no private key (member "d")');
    const issued = await cli('credential', '--issuer', 'public.json', '--key', 'keys/alice.key.json');
    expect(issued.code).toBe(1);
    expect(issued.stderr).toMatch(/^telemetry keys credential: the issuer key file .* holds no private key/);
  });

  it('fails when a device key file names no device', async () => {
    await ok('issuer', 'create', '--out', 'fleet.key.json');
    const { code, stderr } = await cli('credential', '--issuer', 'fleet.key.json', '--key', 'fleet.key.json');
    expect(code).toBe(1);
    expect(stderr).toContain('has no valid "sub" (device id)');
  });

  it('fails with one line when the registry file is missing or not a JWKS', async () => {
    const missing = await cli('registry', 'list', '--registry', 'registry.json');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `telemetry keys registry list: ${join(dir, 'registry.json')}: cannot read the registry (no such file)\n`,
    );
    await writeFile(join(dir, 'registry.json'), '[]');
    const invalid = await cli('registry', 'list', '--registry', 'registry.json');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('not a JWKS document');
  });
});
