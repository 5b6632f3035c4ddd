import type { JWSHeaderParameters } from 'jose';
import { TelemetryError } from '../errors.js';
import { isKeyId } from '../protocol/names.js';
import type { DeviceKeySource, TrustedKey } from '../protocol/trusted-key.js';
import { CREDENTIAL_HEADER } from '../protocol/wire-types.js';
import type { CredentialKeySource } from './credential-key-source.js';
import type { JwksRegistry } from './jwks-registry.js';

export interface DeviceKeysOptions {
  /** The device key registry's current snapshot, when the node has one. */
  readonly registry?: () => JwksRegistry;
  /** Device credentials, when the node trusts fleet issuers. */
  readonly credentials?: CredentialKeySource;
  /**
   * Called when a kid is not in the registry: resolves true when it reloaded the registry (its file had
   * changed), and the kid is then looked up once more. Absent: an unknown kid is refused at once.
   */
  readonly recheckRegistry?: () => Promise<boolean>;
}

/**
 * The node's key source: a JWS that carries a device credential in its `dcr`
 * header is checked against the fleet issuers; any other is looked up in the
 * registry by `kid`.
 */
export class DeviceKeys implements DeviceKeySource {
  readonly #options: DeviceKeysOptions;

  constructor(options: DeviceKeysOptions) {
    if (options.registry === undefined && options.credentials === undefined) {
      throw new TypeError('DeviceKeys needs a registry, credentials, or both');
    }
    this.#options = options;
  }

  resolve(header: JWSHeaderParameters, now: number): Promise<TrustedKey> {
    const credential: unknown = header[CREDENTIAL_HEADER];
    if (credential !== undefined) {
      if (this.#options.credentials === undefined) {
        return Promise.reject(
          new TelemetryError(
            'ERR_CREDENTIAL_INVALID',
            'this node does not accept device credentials; use a registered key',
          ),
        );
      }
      return this.#options.credentials.resolve(credential, now);
    }
    const registry = this.#options.registry;
    if (registry === undefined) {
      return Promise.reject(
        new TelemetryError('ERR_UNKNOWN_KEY', 'this node has no key registry; present a device credential in "dcr"'),
      );
    }
    const kid = header.kid;
    if (kid === undefined) return Promise.reject(new TelemetryError('ERR_HEADER_INVALID', 'the header has no kid'));
    if (!isKeyId(kid))
      return Promise.reject(
        new TelemetryError('ERR_HEADER_INVALID', 'the kid has characters outside [A-Za-z0-9._:-] or is too long'),
      );
    const recheck = this.#options.recheckRegistry;
    if (recheck === undefined) return registry().lookup(kid);
    return registry()
      .lookup(kid)
      .catch(async (error: unknown) => {
        if (!(error instanceof TelemetryError && error.code === 'ERR_UNKNOWN_KEY') || !(await recheck())) throw error;
        return registry().lookup(kid);
      });
  }
}
