import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DeviceAlgorithm, issueCredential } from '../../src/index.js';
import { deriveKey } from './derive-key.js';
import type { DeviceKeySourceKind, FleetDevice, FleetKeySource, FleetManifest } from './fleet-manifest.js';
import { FLEET_FILE } from './fleet-manifest.js';

/** The algorithm of each device: one for all, or alternating ES256 and EdDSA. */
export type FleetAlgorithm = DeviceAlgorithm | 'mixed';

export interface ProvisionOptions {
  /** The fleet folder; created when missing, files in it replaced. */
  readonly dir: string;
  readonly devices: number;
  readonly alg: FleetAlgorithm;
  /** Kind names, assigned in turn. */
  readonly kinds: readonly string[];
  readonly keySource: FleetKeySource;
  /** Derives every key; the same seed gives the same keys. Random when absent. */
  readonly seed?: string;
  readonly credentialTtlSeconds: number;
  /** When credentials are issued, ms since the epoch; credential files are byte-identical for the same value. */
  readonly now: number;
}

/** What was written. */
export interface ProvisionResult {
  readonly manifest: FleetManifest;
  readonly seed: string;
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

async function writeSecret(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600); // an existing file keeps its mode on write
}

/** The id of the device at `index`: `sim-<kind>-<5 digits>`. */
export function simulatedDeviceId(kind: string, index: number): string {
  return `sim-${kind}-${String(index).padStart(5, '0')}`;
}

/**
 * Provisions a simulated fleet in `dir`: a key pair per device derived from the
 * seed, the registry JWKS and/or a fleet issuer with a credential per device,
 * and `fleet.json`. With a seed, the same options give byte-identical files.
 *
 * @example
 * await provisionFleet({ dir: 'fleet', devices: 100, alg: 'mixed', kinds: ['thermo'], keySource: 'registry',
 *   seed: 'demo', credentialTtlSeconds: 30 * 86_400, now: Date.now() });
 */
export async function provisionFleet(options: ProvisionOptions): Promise<ProvisionResult> {
  const seed = options.seed ?? randomBytes(16).toString('hex');
  const { dir, keySource } = options;
  const withRegistry = keySource !== 'credentials';
  const withCredentials = keySource !== 'registry';
  await mkdir(join(dir, 'keys'), { recursive: true, mode: 0o700 });
  if (withCredentials) await mkdir(join(dir, 'credentials'), { recursive: true, mode: 0o700 });

  const issuer = withCredentials ? deriveKey(seed, 'issuer', 'EdDSA', undefined) : undefined;
  const registry: unknown[] = [];
  const devices: FleetDevice[] = [];
  for (let index = 0; index < options.devices; index++) {
    const kind = options.kinds[index % options.kinds.length] ?? 'thermo';
    const id = simulatedDeviceId(kind, index);
    const alg: DeviceAlgorithm = options.alg === 'mixed' ? (index % 2 === 0 ? 'ES256' : 'EdDSA') : options.alg;
    const key = deriveKey(seed, id, alg, id);
    const keyFile = join('keys', `${id}.key.json`);
    await writeSecret(join(dir, keyFile), json(key.privateJwk));
    if (withRegistry) registry.push(key.publicJwk);
    let credentialFile: string | undefined;
    if (issuer !== undefined) {
      credentialFile = join('credentials', `${id}.jwt`);
      const credential = await issueCredential({
        issuerKey: issuer.privateJwk,
        device: id,
        deviceKey: key.publicJwk,
        lifetimeSeconds: options.credentialTtlSeconds,
        issuer: 'telemetry-simulator',
        now: options.now,
      });
      await writeSecret(join(dir, credentialFile), `${credential}\n`);
    }
    const source: DeviceKeySourceKind =
      keySource === 'registry'
        ? 'registry'
        : keySource === 'credentials' || index % 2 === 1
          ? 'credential'
          : 'registry';
    devices.push({
      id,
      kind,
      alg,
      kid: String(key.privateJwk.kid),
      keySource: source,
      keyFile,
      ...(credentialFile === undefined ? {} : { credentialFile }),
    });
  }
  if (withRegistry) await writeFile(join(dir, 'registry.jwks.json'), json({ keys: registry }));
  if (issuer !== undefined) {
    await writeFile(join(dir, 'issuers.jwks.json'), json({ keys: [issuer.publicJwk] }));
    await writeSecret(join(dir, 'issuer.key.json'), json(issuer.privateJwk));
  }
  const manifest: FleetManifest = {
    version: 1,
    keySource,
    ...(withRegistry ? { registryFile: 'registry.jwks.json' } : {}),
    ...(withCredentials
      ? {
          issuersFile: 'issuers.jwks.json',
          credentialsExpireAt: (Math.floor(options.now / 1000) + options.credentialTtlSeconds) * 1000,
        }
      : {}),
    devices,
  };
  await writeFile(join(dir, FLEET_FILE), json(manifest));
  return { manifest, seed };
}
