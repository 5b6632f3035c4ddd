import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  addRegistryKey,
  type DeviceAlgorithm,
  type DeviceSigner,
  deviceSignerFromJwk,
  generateKey,
  newKeyId,
} from '../../src/index.js';

/** A device's signer, and since when its key exists (a new key may not be loaded by the nodes yet). */
export interface BridgeSigner {
  readonly signer: DeviceSigner;
  readonly createdAt: number;
}

/** How the bridge finds, and makes, the keys of the devices it speaks for. */
export interface DeviceKeysFolderOptions {
  /** The folder of `<device>.key.json` files (private JWKs as `telemetry keys generate` writes them). */
  readonly dir: string;
  /** Whether a device without a key file gets a new key. */
  readonly create: boolean;
  readonly alg: DeviceAlgorithm;
  /** A JWKS registry file the public half of each new key is added to; undefined adds none. */
  readonly registry: string | undefined;
  /** Called once per key created, with the device and kid (never the key). */
  readonly onCreated: (device: string, kid: string) => void;
}

const isMissing = (error: unknown) => (error as { code?: unknown }).code === 'ENOENT';

/**
 * Each upstream device's own key, one file per device in a folder: read when
 * it is there, created on first sight when allowed (written with mode 0600 and,
 * when a registry file is set, its public half added there, which is what
 * `telemetry keys registry add --key <file>` would do). A signature by such a
 * key proves that this bridge saw the reading, not that the sensor produced it.
 */
export class DeviceKeysFolder {
  readonly #o: DeviceKeysFolderOptions;
  readonly #signers = new Map<string, Promise<BridgeSigner | undefined>>();
  /** Registry writes one at a time: each reads, adds and rewrites the whole file. */
  #registryWrites: Promise<unknown> = Promise.resolve();

  constructor(options: DeviceKeysFolderOptions) {
    this.#o = options;
  }

  /** The signer of `device`, or undefined when it has no key and none may be created. */
  signerFor(device: string): Promise<BridgeSigner | undefined> {
    let signer = this.#signers.get(device);
    if (signer === undefined) {
      signer = this.#load(device);
      this.#signers.set(device, signer);
      // A failure (a full disk) is not remembered: the next reading tries again.
      signer.catch(() => this.#signers.delete(device));
    }
    return signer;
  }

  async #load(device: string): Promise<BridgeSigner | undefined> {
    const path = join(this.#o.dir, `${device}.key.json`);
    try {
      const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
      return { signer: await deviceSignerFromJwk(JSON.parse(text)), createdAt: info.mtimeMs };
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    if (!this.#o.create) return undefined;
    const key = await generateKey(this.#o.alg, newKeyId(device), device);
    await mkdir(this.#o.dir, { recursive: true, mode: 0o700 });
    await writeFile(path, `${JSON.stringify(key.privateJwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    const registry = this.#o.registry;
    if (registry !== undefined) {
      const added = this.#registryWrites.then(() => addRegistryKey(registry, key.publicJwk));
      this.#registryWrites = added.catch(() => undefined);
      await added;
    }
    this.#o.onCreated(device, String(key.privateJwk.kid));
    return { signer: await deviceSignerFromJwk(key.privateJwk), createdAt: Date.now() };
  }
}
