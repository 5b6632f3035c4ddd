import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeviceKeys, RefreshingRegistry, TelemetryError } from '../../src/index.js';
import { makeDevice, type TestDevice } from '../support/devices.js';

let alice: TestDevice;
let bob: TestDevice;
let server: Server | undefined;
let dir: string | undefined;
let registry: RefreshingRegistry | undefined;

beforeAll(async () => {
  alice = await makeDevice('alice');
  bob = await makeDevice('bob', 'EdDSA');
});

afterEach(async () => {
  registry?.close();
  registry = undefined;
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A real HTTP server on loopback answering with whatever `document()` holds now. */
async function serveJwks(document: () => { status: number; body: string }): Promise<string> {
  const http = createServer((_req, res) => {
    const { status, body } = document();
    res.writeHead(status, { 'content-type': 'application/jwk-set+json' }).end(body);
  });
  server = http;
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}/jwks.json`;
}

async function kidIsTrusted(kid: string): Promise<boolean> {
  return (registry as RefreshingRegistry).current.lookup(kid).then(
    () => true,
    (error: unknown) => {
      if (error instanceof TelemetryError && error.code === 'ERR_UNKNOWN_KEY') return false;
      throw error;
    },
  );
}

describe('RefreshingRegistry', () => {
  it('loads a JWKS over HTTP, picks up a new key on refresh, and revokes a removed one', async () => {
    let keys = [alice.publicJwk];
    const url = await serveJwks(() => ({ status: 200, body: JSON.stringify({ keys }) }));
    registry = await RefreshingRegistry.start({ location: url, refreshMs: 0, requireSub: true });
    expect(await kidIsTrusted('alice.k1')).toBe(true);
    expect(await kidIsTrusted('bob.k1')).toBe(false);
    keys = [bob.publicJwk];
    await registry.refresh();
    expect(await kidIsTrusted('bob.k1')).toBe(true);
    expect(await kidIsTrusted('alice.k1')).toBe(false);
  });

  it('keeps the last good key set when a refresh fails or returns an invalid document', async () => {
    let answer = { status: 200, body: JSON.stringify({ keys: [alice.publicJwk] }) };
    const url = await serveJwks(() => answer);
    const errors: unknown[] = [];
    registry = await RefreshingRegistry.start({
      location: url,
      refreshMs: 0,
      requireSub: true,
      onRefreshError: (e) => errors.push(e),
    });
    answer = { status: 500, body: 'oops' };
    await expect(registry.refresh()).rejects.toThrow(/HTTP 500/);
    answer = { status: 200, body: JSON.stringify({ keys: [{ ...alice.privateJwk }] }) };
    await expect(registry.refresh()).rejects.toThrow(/private key material/);
    expect(await kidIsTrusted('alice.k1')).toBe(true);
  });

  it('reloads a registry file soon after it changes, even with periodic refresh off', async () => {
    dir = await mkdtemp(join(tmpdir(), 'registry-'));
    const file = join(dir, 'registry.jwks.json');
    await writeFile(file, JSON.stringify({ keys: [alice.publicJwk] }));
    registry = await RefreshingRegistry.start({ location: file, refreshMs: 0, fileCheckMs: 20, requireSub: true });
    await writeFile(file, JSON.stringify({ keys: [alice.publicJwk, bob.publicJwk] }));
    const deadline = Date.now() + 5000;
    while (!(await kidIsTrusted('bob.k1'))) {
      if (Date.now() > deadline) throw new Error('the new key was not picked up');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await kidIsTrusted('alice.k1')).toBe(true);
  });

  it('fails to start when the first load fails, naming the problem', async () => {
    await expect(
      RefreshingRegistry.start({ location: '/nonexistent/registry.json', refreshMs: 0, requireSub: true }),
    ).rejects.toThrow(/^no such file$/);
    const url = await serveJwks(() => ({ status: 200, body: JSON.stringify({ keys: [{ kid: 'x', alg: 'HS256' }] }) }));
    await expect(RefreshingRegistry.start({ location: url, refreshMs: 0, requireSub: true })).rejects.toThrow(
      /keys\[0\]/,
    );
  });
});

describe('a node asked for a kid its registry file does not have yet', () => {
  it('looks at the file at once and finds a key added a moment ago, without waiting for the periodic check', async () => {
    dir = await mkdtemp(join(tmpdir(), 'registry-recheck-'));
    const file = join(dir, 'registry.jwks.json');
    await writeFile(file, JSON.stringify({ keys: [alice.publicJwk] }));
    registry = await RefreshingRegistry.start({ location: file, refreshMs: 0, requireSub: true, fileCheckMs: 0 });
    const running = registry;
    const keys = new DeviceKeys({ registry: () => running.current, recheckRegistry: () => running.recheckFile() });
    await expect(keys.resolve({ alg: 'EdDSA', kid: 'bob.k1' }, Date.now())).rejects.toMatchObject({
      code: 'ERR_UNKNOWN_KEY',
    });
    await writeFile(file, JSON.stringify({ keys: [alice.publicJwk, bob.publicJwk] }));
    // Within the recheck interval the last look stands; after it, the changed file is read.
    await new Promise((resolve) => setTimeout(resolve, 250));
    await expect(keys.resolve({ alg: 'EdDSA', kid: 'bob.k1' }, Date.now())).resolves.toBeDefined();
  });

  it('does not reload an unchanged file, however many unknown kids arrive', async () => {
    dir = await mkdtemp(join(tmpdir(), 'registry-recheck-'));
    const file = join(dir, 'registry.jwks.json');
    await writeFile(file, JSON.stringify({ keys: [alice.publicJwk] }));
    let loads = 0;
    registry = await RefreshingRegistry.start({
      location: file,
      refreshMs: 0,
      requireSub: true,
      fileCheckMs: 0,
      load: async (location) => {
        loads++;
        return JSON.parse(await readFile(location, 'utf8'));
      },
    });
    const results = await Promise.all(Array.from({ length: 50 }, () => (registry as RefreshingRegistry).recheckFile()));
    expect(results.every((reloaded) => !reloaded)).toBe(true);
    expect(loads).toBe(1);
  });
});
