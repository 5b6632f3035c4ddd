/**
 * What the vector generator (generate-vectors.ts) builds its cases from: the fixed time and node
 * settings, the devices and fleet issuers with fresh keys, and helpers for payloads and expectations.
 */
import { type CompactJWSHeaderParameters, CompactSign, type JWK } from 'jose';
import {
  type DeviceAlgorithm,
  type DeviceSigner,
  deviceSignerFromJwk,
  generateKey,
  issueCredential,
} from '../../src/index.js';

export const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
export const SETTINGS = {
  maxMessageBytes: 4096,
  maxReadingsPerMessage: 10,
  maxValuesPerReading: 8,
  maxReadingAgeMs: 7 * 86_400_000,
  maxFutureSkewMs: 60_000,
  clockSkewSeconds: 60,
  tokenAudience: 'telemetry-ingest',
  maxTokenLifetimeSeconds: 86_400,
};
export const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

export interface Case {
  name: string;
  message: string;
  context?: { expectedDevice: string };
  expect:
    | { ok: true; device: string; seq: number; keySource: string; readings: unknown[] }
    | { ok: false; error: string };
}

async function device(id: string, alg: DeviceAlgorithm) {
  const key = await generateKey(alg, `${id}.k1`, id);
  return { id, ...key, signer: await deviceSignerFromJwk(key.privateJwk) };
}

type VectorDevice = Awaited<ReturnType<typeof device>>;

/** The devices and issuers of the vectors, with fresh keys each run. */
export interface VectorFleet {
  /** Registered devices: ES256, EdDSA, and another ES256 one whose key is used where it must not be. */
  readonly es: VectorDevice;
  readonly ed: VectorDevice;
  readonly other: VectorDevice;
  /** A device known only by its credential from `issuer`. */
  readonly cred: VectorDevice;
  readonly issuer: Awaited<ReturnType<typeof generateKey>>;
  /** An issuer the node does not trust. */
  readonly rogue: Awaited<ReturnType<typeof generateKey>>;
  /** `cred`'s signer with a valid credential. */
  readonly credSigner: DeviceSigner;
  /** A credential for `cred`, issued at `at` for `lifetime` seconds by `key` (the fleet issuer by default). */
  credential(lifetime: number, at: number, key?: JWK): Promise<string>;
}

export async function vectorFleet(): Promise<VectorFleet> {
  const es = await device('sensor-es256', 'ES256');
  const ed = await device('sensor-eddsa', 'EdDSA');
  const other = await device('sensor-other', 'ES256');
  const cred = await device('sensor-credential', 'ES256');
  const issuer = await generateKey('ES256', 'fleet-issuer.k1');
  const rogue = await generateKey('ES256', 'rogue-issuer.k1');
  const credential = (lifetime: number, at: number, key: JWK = issuer.privateJwk) =>
    issueCredential({
      issuerKey: key,
      device: cred.id,
      deviceKey: cred.publicJwk,
      lifetimeSeconds: lifetime,
      now: at,
      issuer: 'example-fleet',
    });
  const credSigner = await deviceSignerFromJwk(cred.privateJwk, await credential(30 * 86_400, NOW - 86_400_000));
  return { es, ed, other, cred, issuer, rogue, credSigner, credential };
}

export const payload = (signer: DeviceSigner, seq: number, readings: unknown[], extra: object = {}) => ({
  v: 1,
  device: signer.device,
  seq,
  readings,
  ...extra,
});
/** A reading `dt` ms before NOW. */
export const r = (dt: number, values: Record<string, unknown>) => ({ ts: NOW - dt, values });
/** One reading, the payload of most cases. */
export const ONE = [r(1000, { temperature: 21.5, humidity: 40.25 })];

export const ok = (
  signer: DeviceSigner,
  seq: number,
  readings: Array<{ ts: number; values: object }>,
  keySource = 'registry',
) => ({
  ok: true as const,
  device: signer.device,
  seq,
  keySource,
  readings: readings.map((x) => ({ device: signer.device, ...x })),
});
export const fail = (error: string) => ({ ok: false as const, error });

export const manual = async (signer: DeviceSigner, header: object, body: string) => {
  // For headers jose will not produce (crit, b64): sign the exact bytes with jose's CompactSign over a neutral header,
  // then swap the header in and re-sign through node:crypto would be needed; instead use CompactSign with crit allowed.
  return new CompactSign(new TextEncoder().encode(body))
    .setProtectedHeader(header as CompactJWSHeaderParameters)
    .sign(signer.privateKey);
};

/** Adds one case; awaits its message first, so cases keep the order they were added in. */
export type AddCase = (
  name: string,
  message: string | Promise<string>,
  expect: Case['expect'],
  context?: Case['context'],
) => Promise<unknown>;
