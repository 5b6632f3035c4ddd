import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { JWK } from 'jose';
import { publicJwk } from '../protocol/device-algorithm.js';
import { JwksRegistry, parseJwks, type RegistryKey } from './jwks-registry.js';

/** A JWKS document as it lives in a registry file; members other than `keys` are kept as they are. */
export interface JwksDocument {
  readonly keys: readonly JWK[];
  readonly [member: string]: unknown;
}

/** A registry file's document and its checked keys. */
export interface RegistryFileContents {
  readonly document: JwksDocument;
  readonly keys: readonly RegistryKey[];
}

/** How a registry file is checked. */
export interface RegistryFileOptions {
  /**
   * Whether every key must name its device in `sub`: true (the default) for a
   * device key registry, false for a set of issuer keys.
   */
  readonly requireSub?: boolean;
}

/** How {@link readRegistryFile} reads a registry file. */
export interface ReadRegistryFileOptions extends RegistryFileOptions {
  /** Read a missing file as an empty registry instead of failing. */
  readonly missingOk?: boolean;
}

/** Which keys {@link removeRegistryKeys} removes: one key by kid, or every key of a device. */
export type RegistryKeyMatch = { readonly kid: string } | { readonly device: string };

/** Why a file operation failed, without the file's contents. */
function fileReason(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a folder';
  return typeof code === 'string' ? code : 'unexpected failure';
}

/**
 * Reads and checks a JWKS registry file. Rejects with an Error naming the file
 * and every problem; the messages never quote key material (a JSON syntax
 * error's message would, so it is replaced).
 *
 * @example
 * const { keys } = await readRegistryFile('registry.json');
 */
export async function readRegistryFile(
  path: string,
  options: ReadRegistryFileOptions = {},
): Promise<RegistryFileContents> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (options.missingOk === true && (error as { code?: unknown }).code === 'ENOENT') {
      return { document: { keys: [] }, keys: [] };
    }
    throw new Error(`${path}: cannot read the registry (${fileReason(error)})`, { cause: error });
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new Error(`${path}: not valid JSON`);
  }
  const { keys, problems } = parseJwks(document, path, { requireSub: options.requireSub ?? true });
  if (problems.length > 0) throw new Error(problems.join('; '));
  return { document: document as JwksDocument, keys };
}

/**
 * Writes a registry document atomically: it is checked as {@link JwksRegistry.fromDocument}
 * would on a node, written to a temporary file in the same folder, flushed, and
 * renamed over `path`, so a node refreshing the registry never reads half a file.
 * An existing file keeps its permission bits.
 */
export async function writeRegistryFile(
  path: string,
  document: JwksDocument,
  options: RegistryFileOptions = {},
): Promise<void> {
  JwksRegistry.fromDocument(document, path, { requireSub: options.requireSub ?? true });
  const existingMode = await stat(path).then(
    (stats) => stats.mode & 0o777,
    () => undefined,
  );
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(temporary, 'wx', existingMode ?? 0o644);
    try {
      await handle.writeFile(`${JSON.stringify(document, null, 2)}\n`, 'utf8');
      if (existingMode !== undefined) await handle.chmod(existingMode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new Error(`${path}: cannot write the registry (${fileReason(error)})`, { cause: error });
  }
}

/** The public half of a key as a registry holds it: key members, kid, alg, and sub and use when present. */
function registryEntry(jwk: JWK): JWK {
  const { kid, alg, use } = jwk;
  const sub: unknown = (jwk as { sub?: unknown }).sub;
  return {
    ...publicJwk(jwk),
    kid,
    alg,
    ...(use === undefined ? {} : { use }),
    ...(sub === undefined ? {} : { sub }),
  } as JWK;
}

/**
 * Adds the public half of `jwk` (a public or private JWK with kid, alg and, in
 * a device registry, sub) to the registry file, creating the file when it is
 * missing. The private member `d` is never written. Refuses a kid the registry
 * already holds. Resolves to the entry as written.
 */
export async function addRegistryKey(path: string, jwk: JWK, options: RegistryFileOptions = {}): Promise<RegistryKey> {
  const requireSub = options.requireSub ?? true;
  const entry = registryEntry(jwk);
  const checked = parseJwks({ keys: [entry] }, 'the key to add', { requireSub });
  const [added] = checked.keys;
  if (added === undefined) throw new Error(checked.problems.join('; '));
  const { document } = await readRegistryFile(path, { requireSub, missingOk: true });
  if (document.keys.some((key) => key.kid === added.kid)) {
    throw new Error(`${path}: already holds a key with kid ${JSON.stringify(added.kid)}`);
  }
  await writeRegistryFile(path, { ...document, keys: [...document.keys, entry] }, { requireSub });
  return added;
}

/**
 * Removes one key (by kid) or every key of a device from the registry file and
 * resolves to the keys removed. Removing a device's keys revokes it: nodes stop
 * accepting it at their next registry refresh. When nothing matches, the file
 * is left untouched and the result is empty.
 */
export async function removeRegistryKeys(
  path: string,
  match: RegistryKeyMatch,
  options: RegistryFileOptions = {},
): Promise<readonly RegistryKey[]> {
  const requireSub = options.requireSub ?? true;
  const { document, keys } = await readRegistryFile(path, { requireSub });
  const matches = (key: RegistryKey) => ('kid' in match ? key.kid === match.kid : key.sub === match.device);
  const removed = keys.filter(matches);
  if (removed.length === 0) return removed;
  const removedKids = new Set(removed.map((key) => key.kid));
  const remaining = document.keys.filter((key) => !removedKids.has(String(key.kid)));
  await writeRegistryFile(path, { ...document, keys: remaining }, { requireSub });
  return removed;
}
