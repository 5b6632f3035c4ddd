import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { JWK } from 'jose';
import { type DeviceAlgorithm, isDeviceAlgorithm } from '../../src/protocol/device-algorithm.js';
import { isDeviceId, isKeyId } from '../../src/protocol/names.js';
import { KeysFailure } from './keys-failure.js';

/** A key file's JWK with the members this service needs checked. */
export interface KeyFile {
  readonly path: string;
  readonly jwk: JWK;
  readonly kid: string;
  readonly alg: DeviceAlgorithm;
  /** The device id in `sub`; undefined for issuer keys. */
  readonly device: string | undefined;
}

/** What a key file must hold. */
export interface KeyFileNeeds {
  /** A private key (member `d`), because the command signs with it. */
  readonly private: boolean;
  /** A device id in `sub`. */
  readonly device: boolean;
}

/** Why a file operation failed, in a few words. */
function fileReason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a folder';
  if (code === 'EEXIST') return 'already exists';
  return typeof code === 'string' ? code : 'unexpected failure';
}

/** Reads a file as text, or a KeysFailure naming it. */
export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new KeysFailure(`cannot read the ${what} ${path}: ${fileReason(error)}`, { cause: error });
  }
}

/**
 * Reads a JWK key file and checks it holds what the command needs. Messages
 * never quote the file (a JSON syntax error's message would quote key material).
 */
export async function readKeyFile(path: string, what: string, needs: KeyFileNeeds): Promise<KeyFile> {
  const text = await readTextFile(path, what);
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new KeysFailure(`the ${what} ${path} is not valid JSON`);
  }
  const problem = (message: string) => new KeysFailure(`the ${what} ${path} ${message}`);
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw problem('is not a JWK (a JSON object)');
  const { kid, alg, d } = jwk as JWK;
  const sub: unknown = (jwk as { sub?: unknown }).sub;
  if (!isKeyId(kid)) throw problem('has no valid "kid"');
  if (!isDeviceAlgorithm(alg)) throw problem('has no "alg" of ES256 or EdDSA');
  if (needs.device && !isDeviceId(sub)) throw problem('has no valid "sub" (device id)');
  if (needs.private && typeof d !== 'string') throw problem('holds no private key (member "d")');
  return { path, jwk: jwk as JWK, kid, alg, device: isDeviceId(sub) ? sub : undefined };
}

/**
 * Reads a key file as {@link readKeyFile} does, or resolves to undefined when
 * there is no file at `path` (for `--if-missing`, which keeps an existing key).
 */
export async function existingKeyFile(path: string, what: string, needs: KeyFileNeeds): Promise<KeyFile | undefined> {
  try {
    await stat(path);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new KeysFailure(`cannot read the ${what} ${path}: ${fileReason(error)}`, { cause: error });
  }
  return readKeyFile(path, what, needs);
}

/**
 * Writes a secret (a private key, a credential) readable by its owner only
 * (mode 0600), creating missing folders (mode 0700). Without `replace` an
 * existing file is refused; with it the file is replaced atomically.
 */
export async function writeSecretFile(path: string, text: string, options: { replace: boolean }): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new KeysFailure(`cannot create the folder ${dirname(path)}: ${fileReason(error)}`, { cause: error });
  }
  const target = options.replace
    ? join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
    : path;
  let created = false;
  try {
    const handle = await open(target, 'wx', 0o600);
    created = true;
    try {
      await handle.writeFile(text, 'utf8');
      await handle.chmod(0o600);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (target !== path) await rename(target, path);
  } catch (error) {
    if (created) await rm(target, { force: true });
    if (!options.replace && (error as { code?: unknown }).code === 'EEXIST') {
      throw new KeysFailure(`refusing to overwrite ${path}; pass --force to replace it`, { cause: error });
    }
    throw new KeysFailure(`cannot write ${path}: ${fileReason(error)}`, { cause: error });
  }
}
