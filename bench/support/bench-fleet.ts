import { writeFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import {
  type DeviceAlgorithm,
  type DeviceSigner,
  deviceSignerFromJwk,
  generateKey,
  signConnectionToken,
  signMessage,
} from '../../src/index.js';

/** Devices of one algorithm, registered by key id (registry mode), as the benchmarks drive them. */
export interface BenchFleet {
  readonly alg: DeviceAlgorithm;
  readonly signers: readonly DeviceSigner[];
  readonly publicJwks: readonly JWK[];
}

/** Generates `devices` key pairs named `<prefix>-<n>`. */
export async function makeBenchFleet(options: {
  readonly devices: number;
  readonly alg: DeviceAlgorithm;
  readonly prefix?: string;
}): Promise<BenchFleet> {
  const prefix = options.prefix ?? `bench-${options.alg.toLowerCase()}`;
  const keys = await Promise.all(
    Array.from({ length: options.devices }, async (_, i) => {
      const device = `${prefix}-${String(i).padStart(5, '0')}`;
      const { privateJwk, publicJwk } = await generateKey(options.alg, `${device}.k1`, device);
      return { signer: await deviceSignerFromJwk(privateJwk), publicJwk };
    }),
  );
  return { alg: options.alg, signers: keys.map((k) => k.signer), publicJwks: keys.map((k) => k.publicJwk) };
}

/** Writes the registry JWKS (TELEMETRY_KEY_REGISTRY) of one or more fleets to `file`. */
export async function writeRegistry(file: string, fleets: readonly BenchFleet[]): Promise<void> {
  await writeFile(file, JSON.stringify({ keys: fleets.flatMap((f) => f.publicJwks) }));
}

/**
 * Signed messages, per device, signed before anything is measured: `byDevice[d][k]` is device d's
 * k-th message. Every reading of every message has its own timestamp, so each one is a new point
 * in the store (not an idempotent rewrite of an earlier one).
 */
export interface MessagePool {
  readonly alg: DeviceAlgorithm;
  readonly readingsPerMessage: number;
  readonly byDevice: readonly (readonly string[])[];
  readonly devices: readonly string[];
  /** Every message, devices interleaved (d0k0, d1k0, ..., d0k1, ...), for transports where order does not matter. */
  readonly interleaved: readonly string[];
  /** Bytes of the average message. */
  readonly averageBytes: number;
}

/** Values in each reading: two metrics, like a small environmental sensor. */
function readingValues(device: number, n: number): Record<string, number> {
  return { temperature: 20 + ((device * 7 + n) % 100) / 10, humidity: 40 + ((device * 3 + n) % 200) / 10 };
}

/**
 * Signs `messagesPerDevice` messages of `readingsPerMessage` readings for every device of `fleet`.
 * Timestamps start at `startTs` and advance by one millisecond per reading and device, so they stay
 * within the node's window (7 days back, 60 s ahead) for any pool a benchmark needs.
 */
export async function signMessagePool(
  fleet: BenchFleet,
  options: { readonly readingsPerMessage: number; readonly messagesPerDevice: number; readonly startTs: number },
): Promise<MessagePool> {
  const { readingsPerMessage, messagesPerDevice, startTs } = options;
  const byDevice = await Promise.all(
    fleet.signers.map(async (signer, d) => {
      const messages: string[] = [];
      for (let k = 0; k < messagesPerDevice; k++) {
        const readings = Array.from({ length: readingsPerMessage }, (_, r) => {
          const n = k * readingsPerMessage + r;
          return { ts: startTs + n, values: readingValues(d, n) };
        });
        messages.push(await signMessage(signer, k + 1, readings));
      }
      return messages;
    }),
  );
  const interleaved: string[] = [];
  for (let k = 0; k < messagesPerDevice; k++) for (const messages of byDevice) interleaved.push(messages[k] as string);
  const bytes = interleaved.reduce((sum, m) => sum + m.length, 0);
  return {
    alg: fleet.alg,
    readingsPerMessage,
    byDevice,
    devices: fleet.signers.map((s) => s.device),
    interleaved,
    averageBytes: interleaved.length === 0 ? 0 : Math.round(bytes / interleaved.length),
  };
}

/** One MQTT connection token per device of `fleet` (docs/PROTOCOL.md §4.3), valid for an hour. */
export function connectionTokens(fleet: BenchFleet, now = Date.now()): Promise<string[]> {
  return Promise.all(fleet.signers.map((signer) => signConnectionToken(signer, { now, lifetimeSeconds: 3600 })));
}

/** Hands out a pool's messages in order, wrapping around (and counting the wraps) if a run outlasts it. */
export class PoolCursor {
  #next = 0;
  wraps = 0;
  constructor(private readonly messages: readonly string[]) {
    if (messages.length === 0) throw new Error('empty message pool');
  }
  next(): string {
    if (this.#next === this.messages.length) {
      this.#next = 0;
      this.wraps++;
    }
    return this.messages[this.#next++] as string;
  }
}
