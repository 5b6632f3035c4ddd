import type { JWK } from 'jose';
import type { DeviceSigner } from '../../src/index.js';
import {
  type DeviceAlgorithm,
  deviceSignerFromJwk,
  generateKey,
  issueCredential,
  JwksRegistry,
} from '../../src/index.js';

/** A test device: its signer and the public JWK a registry would hold. */
export interface TestDevice {
  readonly id: string;
  readonly signer: DeviceSigner;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

export async function makeDevice(id: string, alg: DeviceAlgorithm = 'ES256', kid = `${id}.k1`): Promise<TestDevice> {
  const { privateJwk, publicJwk } = await generateKey(alg, kid, id);
  return { id, signer: await deviceSignerFromJwk(privateJwk), privateJwk, publicJwk };
}

export function registryOf(...devices: TestDevice[]): JwksRegistry {
  return JwksRegistry.fromDocument({ keys: devices.map((d) => d.publicJwk) });
}

/** A fleet issuer and a way to hand out credentials. */
export async function makeIssuer(alg: DeviceAlgorithm = 'ES256', kid = 'fleet.k1') {
  const { privateJwk, publicJwk } = await generateKey(alg, kid);
  const issuers = JwksRegistry.fromDocument({ keys: [publicJwk] }, 'issuers', { requireSub: false });
  return {
    privateJwk,
    publicJwk,
    issuers,
    /** A signer for `device` that presents a credential from this issuer. */
    async credentialed(device: TestDevice, now: number, lifetimeSeconds = 3600): Promise<DeviceSigner> {
      const credential = await issueCredential({
        issuerKey: privateJwk,
        device: device.id,
        deviceKey: device.publicJwk,
        lifetimeSeconds,
        now,
      });
      return deviceSignerFromJwk(device.privateJwk, credential);
    },
  };
}
