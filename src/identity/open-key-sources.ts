import { access, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Config } from '../config/config-schema.js';
import { ConfigSchema } from '../config/config-schema.js';
import { isFetchableUrl } from '../config/document-location.js';
import { CredentialKeySource } from './credential-key-source.js';
import { DeviceKeys } from './device-keys.js';
import { RefreshingRegistry } from './refreshing-registry.js';

export interface KeySources {
  readonly deviceKeys: DeviceKeys;
  /** Operator issuer keys for the query API, when configured. */
  readonly operatorIssuers: RefreshingRegistry | undefined;
  close(): void;
}

/**
 * Loads the key sources the configuration names and keeps them fresh. The
 * default registry file is created empty on first start, so `telemetry serve`
 * runs with no setup; a registry the operator named must exist.
 */
export async function openKeySources(config: Config, onRefreshError: (error: unknown) => void): Promise<KeySources> {
  const refreshMs = config.keysRefreshSeconds * 1000;
  const open = (location: string, requireSub: boolean) =>
    RefreshingRegistry.start({ location, refreshMs, requireSub, onRefreshError });

  if (config.keyRegistry === ConfigSchema.properties.keyRegistry.default && !isFetchableUrl(config.keyRegistry)) {
    const exists = await access(config.keyRegistry).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await mkdir(dirname(config.keyRegistry), { recursive: true });
      await writeFile(config.keyRegistry, '{"keys":[]}\n', { flag: 'wx' }).catch(() => undefined);
    }
  }
  const registry = config.keyRegistry === '' ? undefined : await open(config.keyRegistry, true);
  const issuers = config.credentialIssuers === '' ? undefined : await open(config.credentialIssuers, false);
  const operatorIssuers = config.operatorIssuers === '' ? undefined : await open(config.operatorIssuers, false);
  const deviceKeys = new DeviceKeys({
    ...(registry === undefined ? {} : { registry: () => registry.current }),
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
