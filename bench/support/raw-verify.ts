import { execFile } from 'node:child_process';
import { createPublicKey, type JsonWebKey, verify } from 'node:crypto';
import { promisify } from 'node:util';
import { type DeviceAlgorithm, deviceSignerFromJwk, generateKey, signMessage } from '../../src/index.js';
import { RESULT_PREFIX } from './bench-result.js';
import { scriptArgs } from './node-runtime.js';

/** CPU microseconds per operation of each verification layer, per algorithm (bench/verify-cost.ts --json). */
export type VerifyCosts = Record<DeviceAlgorithm, { rawUs: number; joseUs?: number; verifyMessageUs?: number }>;

function isVerifyCosts(value: unknown): value is VerifyCosts {
  const ok = (entry: unknown) =>
    typeof entry === 'object' && entry !== null && typeof (entry as { rawUs?: unknown }).rawUs === 'number';
  return (
    typeof value === 'object' && value !== null && ok((value as VerifyCosts).ES256) && ok((value as VerifyCosts).EdDSA)
  );
}

/**
 * The limit everything is compared with: node:crypto's verify of one signature, the key object
 * prepared once, in CPU µs per operation (the method of bench/verify-cost.ts: process.cpuUsage over
 * `iterations` calls after a warm-up), for a one-reading message.
 */
export async function measureRawVerify(alg: DeviceAlgorithm, iterations: number): Promise<number> {
  const { privateJwk, publicJwk } = await generateKey(alg, 'raw.k1', 'raw');
  const signer = await deviceSignerFromJwk(privateJwk);
  const message = await signMessage(signer, 1, [{ ts: Date.now(), values: { temperature: 21.5, humidity: 40.2 } }]);
  const [h, p, s] = message.split('.') as [string, string, string];
  const input = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, 'base64url');
  const key = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
  const once =
    alg === 'ES256'
      ? () => verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature)
      : () => verify(null, input, key, signature);
  if (!once()) throw new Error('raw verification failed');
  for (let i = 0; i < Math.min(500, iterations); i++) once();
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) once();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / iterations;
}

/** The costs in the last line of `bench/verify-cost.ts --json` (`BENCH_RESULT {...}` or bare JSON). */
export function parseVerifyCosts(output: string): VerifyCosts | undefined {
  const last = output.trim().split('\n').at(-1) ?? '';
  try {
    const parsed: unknown = JSON.parse(last.startsWith(RESULT_PREFIX) ? last.slice(RESULT_PREFIX.length) : last);
    return isVerifyCosts(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Raw verification cost per algorithm: from `bench/verify-cost.ts --json` when it answers, otherwise
 * measured here the same way (with `iterations` calls).
 */
export async function rawVerifyCosts(options: {
  readonly quick: boolean;
  readonly iterations: number;
}): Promise<{ costs: VerifyCosts; source: string }> {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [...scriptArgs('bench/verify-cost.ts', 'tsx'), '--json', ...(options.quick ? ['--quick'] : [])],
      { timeout: 300_000, maxBuffer: 10_000_000 },
    );
    const costs = parseVerifyCosts(stdout);
    if (costs !== undefined) return { costs, source: 'bench/verify-cost.ts --json' };
  } catch {
    // it failed: measure here
  }
  return {
    costs: {
      ES256: { rawUs: await measureRawVerify('ES256', options.iterations) },
      EdDSA: { rawUs: await measureRawVerify('EdDSA', options.iterations) },
    },
    source: 'bench/support/raw-verify.ts (same method as bench/verify-cost.ts)',
  };
}
