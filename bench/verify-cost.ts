/**
 * How much the protocol adds to the bare signature check: raw node:crypto
 * verification (key object prepared once) against jose's compactVerify and
 * the full verifyMessage (header checks, key lookup, signature, strict JSON,
 * schema, timestamps), per algorithm, as ratios measured in the same run.
 *
 * The three are measured in interleaved rounds (raw, jose, verifyMessage,
 * raw, ...) and each ratio is the median of the per-round ratios, so load from
 * other processes on the machine shifts all three alike instead of skewing one.
 *
 *   npx tsx bench/verify-cost.ts [iterations] [--quick] [--json]
 *
 * `--json` ends the output with a `BENCH_RESULT {json}` line for the suite runner.
 */
import { createPublicKey, type JsonWebKey, verify } from 'node:crypto';
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
import { median } from './support/median.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const json = args.includes('--json');
const positional = args.find((a) => /^\d+$/.test(a));
const iterations = Number(positional ?? (quick ? 1_500 : 10_000));
const rounds = quick ? 3 : 7;
const perRound = Math.max(1, Math.round(iterations / rounds));

type Op = () => unknown;

/** CPU µs per call of `op` over `n` calls (async ops are awaited one by one). */
async function cpuPerOp(op: Op, n: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await op();
  const cpu = process.cpuUsage(start);
  return (cpu.user + cpu.system) / n;
}

interface AlgorithmResult {
  rawUs: number;
  joseUs: number;
  verifyMessageUs: number;
  joseRatio: number;
  verifyMessageRatio: number;
}

async function measure(alg: DeviceAlgorithm): Promise<AlgorithmResult> {
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
  const keyObject = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
  const raw: Op =
    alg === 'ES256'
      ? () => verify('sha256', input, { key: keyObject, dsaEncoding: 'ieee-p1363' }, signature)
      : () => verify(null, input, keyObject, signature);
  if (raw() !== true) throw new Error('raw verification failed');
  const jose: Op = () => compactVerify(message, trusted.key, { algorithms: [alg] });
  const deps = { keys, limits: DEFAULT_LIMITS, now: () => now };
  const full: Op = () => verifyMessage(message, deps);

  // Warm up past V8's optimising tiers, so no round measures unoptimised code.
  for (const op of [raw, jose, full]) await cpuPerOp(op, 2_000);
  const samples = { raw: [] as number[], jose: [] as number[], full: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    samples.raw.push(await cpuPerOp(raw, perRound));
    samples.jose.push(await cpuPerOp(jose, perRound));
    samples.full.push(await cpuPerOp(full, perRound));
  }
  const ratios = (of: number[]) => median(of.map((us, i) => us / (samples.raw[i] as number)));
  const result: AlgorithmResult = {
    rawUs: median(samples.raw),
    joseUs: median(samples.jose),
    verifyMessageUs: median(samples.full),
    joseRatio: ratios(samples.jose),
    verifyMessageRatio: ratios(samples.full),
  };
  const line = (label: string, us: number) =>
    process.stdout.write(`  ${label.padEnd(34)} ${us.toFixed(1).padStart(7)} µs CPU/op (median of ${rounds} rounds)\n`);
  process.stdout.write(`${alg}, ${rounds} rounds × ${perRound} iterations, interleaved:\n`);
  line('node:crypto verify (baseline)', result.rawUs);
  line('jose compactVerify', result.joseUs);
  line('verifyMessage (whole protocol)', result.verifyMessageUs);
  process.stdout.write(
    `  ratios to baseline (median per round): jose ${result.joseRatio.toFixed(2)}×, verifyMessage ${result.verifyMessageRatio.toFixed(2)}×\n`,
  );
  return result;
}

const results: Record<string, AlgorithmResult> = {};
for (const alg of ['ES256', 'EdDSA'] as const) results[alg] = await measure(alg);
if (json) process.stdout.write(`BENCH_RESULT ${JSON.stringify({ section: 'verify-cost', ...results })}\n`);
