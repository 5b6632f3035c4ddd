/**
 * How much the protocol adds to the bare signature check: raw node:crypto
 * verification (key object prepared once) against jose's compactVerify and
 * the full verifyMessage (header checks, key lookup, signature, strict JSON,
 * schema, timestamps), per algorithm, as ratios measured in the same run.
 *
 *   npx tsx bench/verify-cost.ts [iterations]
 */
import { createPublicKey, verify } from 'node:crypto';
import { compactVerify } from 'jose';
import {
  DEFAULT_LIMITS,
  type DeviceAlgorithm,
  DeviceKeys,
  deviceSignerFromJwk,
  generateKey,
  JwksRegistry,
  signMessage,
  verifyMessage,
} from '../src/index.js';

const iterations = Number(process.argv[2] ?? 5_000);

async function time(label: string, run: () => unknown | Promise<unknown>): Promise<number> {
  for (let i = 0; i < Math.min(500, iterations); i++) await run(); // warm up
  const start = process.cpuUsage();
  const wall = performance.now();
  for (let i = 0; i < iterations; i++) await run();
  const cpu = process.cpuUsage(start);
  const perOpUs = (cpu.user + cpu.system) / iterations;
  const wallUs = ((performance.now() - wall) * 1000) / iterations;
  process.stdout.write(
    `  ${label.padEnd(34)} ${perOpUs.toFixed(1).padStart(7)} µs CPU/op  ${wallUs.toFixed(1).padStart(7)} µs wall/op\n`,
  );
  return perOpUs;
}

for (const alg of ['ES256', 'EdDSA'] as DeviceAlgorithm[]) {
  const { privateJwk, publicJwk } = await generateKey(alg, 'bench.k1', 'bench');
  const signer = await deviceSignerFromJwk(privateJwk);
  const registry = JwksRegistry.fromDocument({ keys: [publicJwk] });
  const keys = new DeviceKeys({ registry: () => registry });
  const trusted = await registry.lookup('bench.k1');
  const now = Date.now();
  const message = await signMessage(signer, 1, [{ ts: now - 1000, values: { temperature: 21.5 } }]);
  const [h, p, s] = message.split('.') as [string, string, string];
  const input = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, 'base64url');
  const keyObject = createPublicKey({ key: publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const raw =
    alg === 'ES256'
      ? () => verify('sha256', input, { key: keyObject, dsaEncoding: 'ieee-p1363' }, signature)
      : () => verify(null, input, keyObject, signature);
  if (!raw()) throw new Error('raw verification failed');

  process.stdout.write(`${alg}, ${iterations} iterations:\n`);
  const base = await time('node:crypto verify (baseline)', raw);
  const jose = await time('jose compactVerify', () => compactVerify(message, trusted.key, { algorithms: [alg] }));
  const full = await time('verifyMessage (whole protocol)', () =>
    verifyMessage(message, { keys, limits: DEFAULT_LIMITS, now: () => now }),
  );
  process.stdout.write(
    `  ratios to baseline: jose ${(jose / base).toFixed(2)}×, verifyMessage ${(full / base).toFixed(2)}×\n`,
  );
}
