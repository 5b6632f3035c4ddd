import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveKey, loadFleetSigners, provisionFleet, readFleet } from '../../simulator/index.js';
import { DEFAULT_LIMITS, signMessage, verifyMessage } from '../../src/index.js';
import { fleetKeys } from './fleet-node.js';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sim-fleet-'));
  dirs.push(dir);
  return dir;
}

/** Every file under `dir` with its bytes, by relative path. */
function snapshot(dir: string, prefix = ''): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const path = join(prefix, name);
    if (statSync(join(dir, path)).isDirectory()) Object.assign(files, snapshot(dir, path));
    else files[path] = readFileSync(join(dir, path), 'utf8');
  }
  return files;
}

const provision = (dir: string, keySource: 'registry' | 'credentials' | 'both', seed = 'seed-1') =>
  provisionFleet({
    dir,
    devices: 6,
    alg: 'mixed',
    kinds: ['thermo', 'meter', 'gps'],
    keySource,
    seed,
    credentialTtlSeconds: 30 * 86_400,
    now: NOW,
  });

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('provisioning a simulated fleet', () => {
  it('gives byte-identical files for the same seed, and other keys for another seed', async () => {
    const [a, b, c] = [tempDir(), tempDir(), tempDir()];
    await provision(a, 'both');
    await provision(b, 'both');
    await provision(c, 'both', 'seed-2');
    expect(snapshot(a)).toEqual(snapshot(b));
    expect(Object.keys(snapshot(a))).toEqual(
      expect.arrayContaining(['fleet.json', 'registry.jwks.json', 'issuers.jwks.json', 'issuer.key.json']),
    );
    expect(readFileSync(join(a, 'registry.jwks.json'), 'utf8')).not.toBe(
      readFileSync(join(c, 'registry.jwks.json'), 'utf8'),
    );
  });

  it('names devices by kind and index, alternates algorithms, and keeps private keys owner-only', async () => {
    const dir = tempDir();
    const { manifest } = await provision(dir, 'registry');
    expect(manifest.devices.map((d) => [d.id, d.alg])).toEqual([
      ['sim-thermo-00000', 'ES256'],
      ['sim-meter-00001', 'EdDSA'],
      ['sim-gps-00002', 'ES256'],
      ['sim-thermo-00003', 'EdDSA'],
      ['sim-meter-00004', 'ES256'],
      ['sim-gps-00005', 'EdDSA'],
    ]);
    for (const device of manifest.devices) expect(statSync(join(dir, device.keyFile)).mode & 0o777).toBe(0o600);
  });

  it('derives a P-256 key whose public point matches its private scalar', async () => {
    const { privateJwk, publicJwk } = deriveKey('s', 'dev-1', 'ES256', 'dev-1');
    const { createPrivateKey, createPublicKey } = await import('node:crypto');
    const derived = createPublicKey(createPrivateKey({ key: privateJwk as never, format: 'jwk' })).export({
      format: 'jwk',
    });
    expect({ x: derived.x, y: derived.y }).toEqual({ x: publicJwk.x, y: publicJwk.y });
  });

  it.each(['registry', 'credentials', 'both'] as const)(
    'makes keys a node accepts, with key source %s',
    async (keySource) => {
      const dir = tempDir();
      await provision(dir, keySource);
      const fleet = await readFleet(dir);
      const signers = await loadFleetSigners(dir, fleet);
      const deps = { keys: fleetKeys(dir, fleet), limits: DEFAULT_LIMITS, now: () => NOW };
      const sources = new Set<string>();
      for (const device of fleet.devices) {
        const signer = signers.get(device.id);
        if (signer === undefined) throw new Error(`no signer for ${device.id}`);
        const jws = await signMessage(signer, 1, [{ ts: NOW - 1000, values: { t: 1 } }]);
        const verified = await verifyMessage(jws, deps);
        expect(verified.device).toBe(device.id);
        sources.add(verified.keySource);
      }
      const expected = { registry: ['registry'], credentials: ['credential'], both: ['registry', 'credential'] };
      expect([...sources].sort()).toEqual([...expected[keySource]].sort());
    },
  );
});
