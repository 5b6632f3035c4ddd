import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { cli, dir, ok, readJson, registryKeys, useKeysDir, verifyWith } from './keys-command-support.js';

useKeysDir();

const kidIn = (stdout: string) => /^kid {7}(\S+)$/m.exec(stdout)?.[1];

describe('telemetry keys with --if-missing, so a set-up can run twice', () => {
  it('keeps an existing device key and registers it once', async () => {
    const first = await ok('generate', '--device', 'alice', '--registry', 'registry.json', '--if-missing');
    const again = await ok('generate', '--device', 'alice', '--registry', 'registry.json', '--if-missing');

    expect(kidIn(again)).toBe(kidIn(first));
    expect(again).toContain(`key file  ${join(dir, 'keys', 'alice.key.json')} (kept: it exists)`);
    expect(again).toContain('(public key already there)');
    const { keys } = await readJson<{ keys: JWK[] }>('registry.json');
    expect(keys.map((key) => key.kid)).toEqual([kidIn(first)]);
  });

  it('registers a kept device key again when the registry lost it, so its messages verify', async () => {
    await ok('generate', '--device', 'alice', '--registry', 'registry.json', '--if-missing');
    await rm(join(dir, 'registry.json'));

    const again = await ok('generate', '--device', 'alice', '--registry', 'registry.json', '--if-missing');

    expect(again).toContain('(public key added)');
    const signed = await ok('sign', '--key', 'keys/alice.key.json', '--value', 'a=1');
    await expect(verifyWith(await registryKeys(), signed)).resolves.toMatchObject({ device: 'alice' });
    const { keys } = await readJson<{ keys: JWK[] }>('registry.json');
    expect(keys.some((key) => 'd' in key)).toBe(false);
  });

  it('keeps an existing issuer key and publishes it once', async () => {
    const first = await ok('issuer', 'create', '--out', 'op.key.json', '--jwks', 'ops.jwks.json', '--if-missing');
    const again = await ok('issuer', 'create', '--out', 'op.key.json', '--jwks', 'ops.jwks.json', '--if-missing');

    expect(kidIn(again)).toBe(kidIn(first));
    expect(again).toContain('(kept: it exists)');
    const { keys } = await readJson<{ keys: JWK[] }>('ops.jwks.json');
    expect(keys.map((key) => key.kid)).toEqual([kidIn(first)]);
  });

  it('refuses --if-missing together with --force', async () => {
    const { code, stderr } = await cli('issuer', 'create', '--out', 'op.key.json', '--if-missing', '--force');
    expect(code).toBe(2);
    expect(stderr).toContain('--if-missing and --force contradict each other');
  });
});
