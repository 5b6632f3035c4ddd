import { KeyObject } from 'node:crypto';
import type { CryptoKey } from 'jose';
import { importJWK, type JWK } from 'jose';
import { TelemetryError } from '../errors.js';
import { type DeviceAlgorithm, isDeviceAlgorithm, publicJwk, publicJwkProblem } from '../protocol/device-algorithm.js';
import { isDeviceId, isKeyId } from '../protocol/names.js';
import type { TrustedKey } from '../protocol/trusted-key.js';

/** One entry of a JWKS key registry as this service reads it (RFC 7517 plus `sub`). */
export interface RegistryKey {
  readonly kid: string;
  /** The device this key speaks for (empty for issuer key sets, which need none). */
  readonly sub: string;
  readonly alg: DeviceAlgorithm;
  readonly jwk: JWK;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The entry as a RegistryKey, or what is wrong with it (a phrase that follows "keys[i]"). */
function registryKeyProblem(entry: unknown, requireSub: boolean, seen: Set<string>): RegistryKey | string {
  if (!isRecord(entry)) return ' is not an object';
  const { kid, sub, alg } = entry;
  if (!isKeyId(kid)) return '.kid must match ^[A-Za-z0-9._:-]{1,128}$';
  if (seen.has(kid)) return `.kid ${JSON.stringify(kid)} appears twice`;
  seen.add(kid);
  if (requireSub ? !isDeviceId(sub) : sub !== undefined && typeof sub !== 'string') return '.sub must be a device id';
  if (!isDeviceAlgorithm(alg)) return '.alg must be ES256 or EdDSA';
  const problem = publicJwkProblem(entry as JWK, alg);
  if (problem !== undefined) return ` ${problem}`;
  return { kid, sub: typeof sub === 'string' ? sub : '', alg, jwk: publicJwk(entry as JWK) };
}

/**
 * Checks a JWKS document and returns its keys, or a list of every problem.
 * Each key needs `kid` (unique), `sub` (the device id), `alg` (ES256 or EdDSA)
 * and matching public key members; private keys are refused.
 */
export function parseJwks(
  document: unknown,
  where: string,
  options: { requireSub: boolean } = { requireSub: true },
): { keys: RegistryKey[]; problems: string[] } {
  const problems: string[] = [];
  const keys: RegistryKey[] = [];
  if (!isRecord(document) || !Array.isArray(document.keys)) {
    return { keys, problems: [`${where}: not a JWKS document (an object with a "keys" array)`] };
  }
  const seen = new Set<string>();
  const entries: unknown[] = document.keys;
  for (const [i, entry] of entries.entries()) {
    const problem = registryKeyProblem(entry, options.requireSub, seen);
    if (typeof problem === 'string') problems.push(`${where}: keys[${i}]${problem}`);
    else keys.push(problem);
  }
  return { keys, problems };
}

/**
 * An immutable snapshot of a key registry: look keys up by `kid`. Imported
 * CryptoKeys are cached per snapshot; a refresh builds a new snapshot, so a
 * removed key stops verifying as soon as the refreshed registry is in place.
 */
export class JwksRegistry {
  readonly #keys: ReadonlyMap<string, RegistryKey>;
  readonly #imported = new Map<string, Promise<TrustedKey>>();

  constructor(keys: readonly RegistryKey[]) {
    this.#keys = new Map(keys.map((k) => [k.kid, k]));
  }

  /** Parses a JWKS document; throws a TypeError naming every problem. */
  static fromDocument(document: unknown, where = 'registry', options = { requireSub: true }): JwksRegistry {
    const { keys, problems } = parseJwks(document, where, options);
    if (problems.length > 0) throw new TypeError(problems.join('; '));
    return new JwksRegistry(keys);
  }

  get size(): number {
    return this.#keys.size;
  }

  has(kid: string): boolean {
    return this.#keys.has(kid);
  }

  /** The trusted key with this kid, or ERR_UNKNOWN_KEY. */
  lookup(kid: string): Promise<TrustedKey> {
    const cached = this.#imported.get(kid);
    if (cached !== undefined) return cached;
    const entry = this.#keys.get(kid);
    if (entry === undefined) {
      return Promise.reject(new TelemetryError('ERR_UNKNOWN_KEY', 'no registered key has this kid'));
    }
    const imported = importJWK(entry.jwk, entry.alg).then(
      (key): TrustedKey => ({
        device: entry.sub,
        alg: entry.alg,
        key: key as CryptoKey,
        verifier: KeyObject.from(key as CryptoKey),
        kid,
        source: 'registry',
      }),
      (cause: unknown) => {
        this.#imported.delete(kid);
        throw new TelemetryError('ERR_UNKNOWN_KEY', 'the registered key with this kid is not a usable public key', {
          cause,
        });
      },
    );
    this.#imported.set(kid, imported);
    return imported;
  }
}
