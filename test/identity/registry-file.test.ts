import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addRegistryKey,
  readRegistryFile,
  removeRegistryKeys,
  writeRegistryFile,
} from '../../src/identity/registry-file.js';
import { generateKey, JwksRegistry } from '../../src/index.js';

let dir: string;
let registry: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'registry-file-'));
  registry = join(dir, 'registry.json');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const readJson = async (path: string): Promise<{ keys: Array<Record<string, unknown>> }> =>
  JSON.parse(await readFile(path, 'utf8')) as { keys: Array<Record<string, unknown>> };

describe('readRegistryFile', () => {
  it('reads a missing file as an empty registry only when asked to', async () => {
    await expect(readRegistryFile(registry, { missingOk: true })).resolves.toEqual({
      document: { keys: [] },
      keys: [],
    });
    await expect(readRegistryFile(registry)).rejects.toThrow(`${registry}: cannot read the registry (no such file)`);
  });

  it('reports a file that is not JSON without quoting its contents', async () => {
    await writeFile(registry, '{"keys": [{"d": "SECRET-MATERIAL"');
    const error = await readRegistryFile(registry).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(`${registry}: not valid JSON`);
  });

  it('names every problem of an invalid registry', async () => {
    const { privateJwk } = await generateKey('ES256', 'alice.k1', 'alice');
    await writeFile(registry, JSON.stringify({ keys: [privateJwk, { kid: 'bob.k1' }] }));
    await expect(readRegistryFile(registry)).rejects.toThrow(/keys\[0\] holds private key material.*keys\[1\]\.sub/);
  });
});

describe('addRegistryKey', () => {
  it('creates the registry and adds the public half of a private key, never writing d', async () => {
    const { privateJwk } = await generateKey('ES256', 'alice.k1', 'alice');
    const added = await addRegistryKey(registry, privateJwk);
    expect(added).toMatchObject({ kid: 'alice.k1', sub: 'alice', alg: 'ES256' });
    const document = await readJson(registry);
    expect(document.keys).toHaveLength(1);
    expect(document.keys[0]).not.toHaveProperty('d');
    expect(document.keys[0]).toMatchObject({ kid: 'alice.k1', sub: 'alice', alg: 'ES256', use: 'sig' });
    expect(JwksRegistry.fromDocument(document).has('alice.k1')).toBe(true);
  });

  it('refuses a kid the registry already holds and leaves the file as it was', async () => {
    const first = await generateKey('ES256', 'alice.k1', 'alice');
    const second = await generateKey('EdDSA', 'alice.k1', 'alice');
    await addRegistryKey(registry, first.publicJwk);
    const before = await readFile(registry, 'utf8');
    await expect(addRegistryKey(registry, second.publicJwk)).rejects.toThrow('already holds a key with kid "alice.k1"');
    expect(await readFile(registry, 'utf8')).toBe(before);
  });

  it('refuses a device key without sub in a device registry but accepts it in an issuer key set', async () => {
    const { publicJwk } = await generateKey('EdDSA', 'issuer.k1');
    await expect(addRegistryKey(registry, publicJwk)).rejects.toThrow('sub must be a device id');
    await addRegistryKey(registry, publicJwk, { requireSub: false });
    const document = await readJson(registry);
    expect(document.keys[0]).not.toHaveProperty('sub');
    expect(JwksRegistry.fromDocument(document, 'issuers', { requireSub: false }).has('issuer.k1')).toBe(true);
  });

  it('keeps the document’s other members and the file’s permission bits', async () => {
    await writeFile(registry, JSON.stringify({ keys: [], note: 'fleet A' }));
    await chmod(registry, 0o640);
    const { publicJwk } = await generateKey('ES256', 'alice.k1', 'alice');
    await addRegistryKey(registry, publicJwk);
    expect((await readJson(registry)) as unknown).toMatchObject({ note: 'fleet A' });
    expect((await stat(registry)).mode & 0o777).toBe(0o640);
  });
});

describe('writeRegistryFile', () => {
  it('refuses a document a node would reject and leaves the file untouched', async () => {
    const { privateJwk } = await generateKey('ES256', 'alice.k1', 'alice');
    await writeFile(registry, '{"keys":[]}\n');
    await expect(writeRegistryFile(registry, { keys: [privateJwk] })).rejects.toThrow('private key material');
    expect(await readFile(registry, 'utf8')).toBe('{"keys":[]}\n');
  });

  it('replaces the file by renaming, leaving no temporary file behind', async () => {
    const { publicJwk } = await generateKey('ES256', 'alice.k1', 'alice');
    await writeRegistryFile(registry, { keys: [publicJwk] });
    await writeRegistryFile(registry, { keys: [] });
    expect(await readdir(dir)).toEqual(['registry.json']);
    expect(await readJson(registry)).toEqual({ keys: [] });
  });

  it('creates a missing folder, as `keys generate --registry data/registry.jwks.json` needs on a fresh checkout', async () => {
    const path = join(dir, 'missing', 'registry.json');
    await writeRegistryFile(path, { keys: [] });
    expect(await readJson(path)).toEqual({ keys: [] });
  });

  it('fails with the file named when the folder cannot be created', async () => {
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, 'not a folder');
    const path = join(blocker, 'registry.json');
    await expect(writeRegistryFile(path, { keys: [] })).rejects.toThrow(`${path}: cannot write the registry`);
  });
});

describe('removeRegistryKeys', () => {
  it('removes every key of a device and resolves to the keys removed', async () => {
    for (const [kid, device] of [
      ['alice.k1', 'alice'],
      ['alice.k2', 'alice'],
      ['bob.k1', 'bob'],
    ] as const) {
      await addRegistryKey(registry, (await generateKey('ES256', kid, device)).publicJwk);
    }
    const removed = await removeRegistryKeys(registry, { device: 'alice' });
    expect(removed.map((key) => key.kid)).toEqual(['alice.k1', 'alice.k2']);
    expect((await readJson(registry)).keys.map((key) => key.kid)).toEqual(['bob.k1']);
  });

  it('removes one key by kid', async () => {
    await addRegistryKey(registry, (await generateKey('ES256', 'alice.k1', 'alice')).publicJwk);
    await addRegistryKey(registry, (await generateKey('ES256', 'alice.k2', 'alice')).publicJwk);
    await removeRegistryKeys(registry, { kid: 'alice.k1' });
    expect((await readJson(registry)).keys.map((key) => key.kid)).toEqual(['alice.k2']);
  });

  it('leaves the file untouched and resolves to nothing when nothing matches', async () => {
    await addRegistryKey(registry, (await generateKey('ES256', 'alice.k1', 'alice')).publicJwk);
    const before = await stat(registry);
    await expect(removeRegistryKeys(registry, { device: 'carol' })).resolves.toEqual([]);
    expect((await stat(registry)).ino).toBe(before.ino);
  });

  it('fails when the registry file is missing', async () => {
    await expect(removeRegistryKeys(registry, { kid: 'alice.k1' })).rejects.toThrow('no such file');
  });
});
