import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import {
  type DeviceAlgorithm,
  type DeviceSigner,
  deviceSignerFromJwk,
  isDeviceAlgorithm,
  isDeviceId,
} from '../../src/index.js';

/** How nodes find a device's public key: the registry by kid, or the credential the device presents. */
export type DeviceKeySourceKind = 'registry' | 'credential';

/** What `provision` was asked to produce for the whole fleet. */
export type FleetKeySource = 'registry' | 'credentials' | 'both';

/** One simulated device as `fleet.json` lists it; file paths are relative to the fleet folder. */
export interface FleetDevice {
  readonly id: string;
  readonly kind: string;
  readonly alg: DeviceAlgorithm;
  readonly kid: string;
  /** How this device presents its key when it sends. */
  readonly keySource: DeviceKeySourceKind;
  readonly keyFile: string;
  /** Its credential file, when credentials were issued. */
  readonly credentialFile?: string;
}

/** `fleet.json`: the fleet a run drives. */
export interface FleetManifest {
  readonly version: 1;
  readonly keySource: FleetKeySource;
  /** The JWKS for TELEMETRY_KEY_REGISTRY, when the registry is used. */
  readonly registryFile?: string;
  /** The JWKS for TELEMETRY_CREDENTIAL_ISSUERS, when credentials are used. */
  readonly issuersFile?: string;
  /** When the credentials expire, ms since the epoch. */
  readonly credentialsExpireAt?: number;
  readonly devices: readonly FleetDevice[];
}

/** The manifest file's name inside a fleet folder. */
export const FLEET_FILE = 'fleet.json';

/** Raised when a fleet folder cannot be used; the message names the file, never key material. */
export class FleetError extends Error {
  override readonly name = 'FleetError';
}

function isFleetDevice(value: unknown): value is FleetDevice {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Record<string, unknown>;
  return (
    isDeviceId(d.id) &&
    typeof d.kind === 'string' &&
    isDeviceAlgorithm(d.alg) &&
    typeof d.kid === 'string' &&
    (d.keySource === 'registry' || d.keySource === 'credential') &&
    typeof d.keyFile === 'string' &&
    (d.credentialFile === undefined || typeof d.credentialFile === 'string')
  );
}

/** Reads and checks `DIR/fleet.json`. */
export async function readFleet(dir: string): Promise<FleetManifest> {
  const path = join(dir, FLEET_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new FleetError(`cannot read the fleet manifest ${path}; run 'telemetry simulate provision' first`, {
      cause: error,
    });
  }
  const manifest = parsed as Partial<FleetManifest>;
  if (manifest.version !== 1 || !Array.isArray(manifest.devices) || !manifest.devices.every(isFleetDevice)) {
    throw new FleetError(`${path} is not a version 1 fleet manifest`);
  }
  return parsed as FleetManifest;
}

/** The signer of each device, from its key file (and credential file when it presents one). */
export async function loadFleetSigners(dir: string, fleet: FleetManifest): Promise<Map<string, DeviceSigner>> {
  const signers = new Map<string, DeviceSigner>();
  for (const device of fleet.devices) {
    const keyPath = join(dir, device.keyFile);
    let jwk: JWK;
    let credential: string | undefined;
    try {
      jwk = JSON.parse(await readFile(keyPath, 'utf8')) as JWK;
      if (device.keySource === 'credential') {
        if (device.credentialFile === undefined) throw new FleetError(`${device.id} has no credential file`);
        credential = (await readFile(join(dir, device.credentialFile), 'utf8')).trim();
      }
    } catch (error) {
      if (error instanceof FleetError) throw error;
      throw new FleetError(`cannot read the key or credential file of ${device.id} in ${dir}`, { cause: error });
    }
    signers.set(device.id, await deviceSignerFromJwk(jwk, credential));
  }
  return signers;
}
