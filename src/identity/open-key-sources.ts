import { access, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Config } from '../config/config-schema.js';
import { ConfigSchema } from '../config/config-schema.js';
import { isFetchableUrl } from '../config/document-location.js';
import { settingName, settingProblem, shownValue } from '../config/setting-problem.js';
import { ConfigError } from '../errors.js';
import { CredentialKeySource } from './credential-key-source.js';
import { DeviceKeys } from './device-keys.js';
import { RefreshingRegistry } from './refreshing-registry.js';

export interface KeySources {
  readonly deviceKeys: DeviceKeys;
  /** Operator issuer keys for the query API, when configured. */
  readonly operatorIssuers: RefreshingRegistry | undefined;
  close(): void;
}

/** The settings that name a key set. */
type KeySetting = 'keyRegistry' | 'credentialIssuers' | 'operatorIssuers';

/** Which key set a refresh event is about: its setting, as an operator names it, and where it is read from. */
interface KeySourceOrigin {
  /** e.g. `TELEMETRY_KEY_REGISTRY (--key-registry)`. */
  readonly setting: string;
  /** The file, or the URL without its query or user info. */
  readonly location: string;
}

/** What happens to the key sets in the background; a log or metrics hang here. */
export interface KeySourceEvents {
  /** A refresh failed; the previous keys stay in use. `firstInARow` is false while the failures go on. */
  refreshFailed(error: unknown, origin: KeySourceOrigin, firstInARow: boolean): void;
  /** A refresh succeeded after one or more failures. */
  refreshRecovered?(origin: KeySourceOrigin): void;
}

/** What to do when a key set cannot be loaded at start, by setting. */
const REMEDIES: Record<KeySetting, string> = {
  keyRegistry:
    'point it at a JWKS registry file or https URL that exists (`telemetry keys generate --registry FILE` creates one)',
  credentialIssuers:
    'point it at the issuer JWKS file or https URL (`telemetry keys issuer create --jwks FILE` writes one), or leave it empty',
  operatorIssuers:
    'point it at the operator issuer JWKS file or https URL (`telemetry keys issuer create --jwks FILE` writes one), or leave it empty',
};

/**
 * Loads the key sources the configuration names and keeps them fresh. The
 * default registry file is created empty on first start, so `telemetry serve`
 * runs with no setup; a registry the operator named must exist. A key set that
 * cannot be loaded fails the start with a ConfigError naming each setting, its
 * value, what is wrong and what to do.
 */
export async function openKeySources(config: Config, events: KeySourceEvents): Promise<KeySources> {
  const refreshMs = config.keysRefreshSeconds * 1000;
  const open = async (key: KeySetting, requireSub: boolean) => {
    const location = config[key];
    if (location === '') return undefined;
    const origin: KeySourceOrigin = { setting: settingName(key), location: shownValue(location).replace(/^"|"$/g, '') };
    let failing = false;
    return RefreshingRegistry.start({
      location,
      refreshMs,
      requireSub,
      onRefreshError: (error) => {
        events.refreshFailed(error, origin, !failing);
        failing = true;
      },
      onRefreshed: () => {
        if (failing) events.refreshRecovered?.(origin);
        failing = false;
      },
    }).catch((error: unknown) => {
      throw new ConfigError([settingProblem(key, location, reasonOf(error), REMEDIES[key])], {
        heading: 'cannot start',
        cause: error,
      });
    });
  };

  if (config.keyRegistry === ConfigSchema.properties.keyRegistry.default && !isFetchableUrl(config.keyRegistry)) {
    await createDefaultRegistry(config);
  }
  const [registry, issuers, operatorIssuers] = await openAll([
    open('keyRegistry', true),
    open('credentialIssuers', false),
    open('operatorIssuers', false),
  ]);
  const deviceKeys = new DeviceKeys({
    ...(registry === undefined
      ? {}
      : { registry: () => registry.current, recheckRegistry: () => registry.recheckFile() }),
    ...(issuers === undefined
      ? {}
      : {
          credentials: new CredentialKeySource({
            issuers: () => issuers.current,
            clockSkewSeconds: config.clockSkewSeconds,
          }),
        }),
  });
  return {
    deviceKeys,
    operatorIssuers,
    close() {
      registry?.close();
      issuers?.close();
      operatorIssuers?.close();
    },
  };
}

/** The empty default registry, so that a first `telemetry serve` needs no setup. */
async function createDefaultRegistry(config: Config): Promise<void> {
  const exists = await access(config.keyRegistry).then(
    () => true,
    () => false,
  );
  if (exists) return;
  try {
    await mkdir(dirname(config.keyRegistry), { recursive: true });
    await writeFile(config.keyRegistry, '{"keys":[]}\n', { flag: 'wx' });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EEXIST') return;
    const code = (error as { code?: unknown }).code;
    throw new ConfigError(
      [
        settingProblem(
          'dataDir',
          config.dataDir,
          `cannot create the default key registry ${config.keyRegistry} (${typeof code === 'string' ? code : 'unexpected failure'})`,
          'make the folder writable, choose another with TELEMETRY_DATA_DIR, or set TELEMETRY_KEY_REGISTRY',
        ),
      ],
      { heading: 'cannot start', cause: error },
    );
  }
}

/**
 * Waits for every key set; when any failed, closes those that loaded and
 * rejects with one ConfigError listing every failure.
 */
async function openAll(
  pending: ReadonlyArray<Promise<RefreshingRegistry | undefined>>,
): Promise<Array<RefreshingRegistry | undefined>> {
  const settled = await Promise.allSettled(pending);
  const failures = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failures.length === 0) {
    return settled.map((s) => (s as PromiseFulfilledResult<RefreshingRegistry | undefined>).value);
  }
  for (const s of settled) if (s.status === 'fulfilled') s.value?.close();
  const problems = failures.flatMap((f) => (f.reason instanceof ConfigError ? f.reason.problems : [String(f.reason)]));
  const first: unknown = failures[0]?.reason;
  throw new ConfigError(problems, {
    heading: 'cannot start',
    cause: first instanceof ConfigError ? first.cause : first,
  });
}

/** What is wrong with a key set, from loadJsonDocument's or the JWKS check's message (neither quotes key material). */
function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : 'unexpected failure';
}
