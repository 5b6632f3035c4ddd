/**
 * Runs the HAProxy failover drill (test/drills/haproxy-failover.test.ts) and prints a pass/fail summary:
 * three nodes behind HAProxy, one killed -9 mid-run and brought back, the store audited afterwards.
 *
 * @example
 * npx tsx scripts/drill-haproxy.ts
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const vitest = `${root}node_modules/vitest/vitest.mjs`;

interface Half {
  readonly acknowledged: number;
  readonly readingsAcknowledged: number;
  readonly retries: Record<string, number>;
  readonly connects: number;
  readonly disconnects: number;
  readonly verified: { expected: number; storedOnce: number; missing: number; duplicated: number; wrongValue: number };
}

interface Drill {
  readonly killedAt: number;
  readonly restartBegunAt: number;
  readonly restartedAt: number;
  readonly durationMs: number;
  readonly http: Half;
  readonly mqtt: Half;
  readonly haproxy: ReadonlyArray<{ backend: string; server: string; retries: number; redispatches: number }>;
}

const child = spawn(process.execPath, [vitest, 'run', 'test/drills/haproxy-failover.test.ts', '--reporter=verbose'], {
  cwd: root,
  env: { ...process.env, FORCE_COLOR: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let output = '';
child.stdout.on('data', (chunk: Buffer) => {
  output += chunk.toString();
});
const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

const line = /haproxy drill (\{.*\})/.exec(output)?.[1];
const drill = line === undefined ? undefined : (JSON.parse(line) as Drill);
const retries = (r: Record<string, number>) =>
  Object.entries(r)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ') || 'none';
if (drill !== undefined) {
  const sum = (field: 'retries' | 'redispatches') => drill.haproxy.reduce((total, row) => total + row[field], 0);
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    `node killed -9 at ${s(drill.killedAt)}, restart begun at ${s(drill.restartBegunAt)}, up at ${s(drill.restartedAt)}; runs took ${s(drill.durationMs)}`,
  );
  for (const transport of ['http', 'mqtt'] as const) {
    const half = drill[transport];
    const v = half.verified;
    console.log(
      `${transport}: ${half.acknowledged} messages (${half.readingsAcknowledged} readings) acknowledged; ` +
        `device retries: ${retries(half.retries)}; connects ${half.connects}, disconnects ${half.disconnects}; ` +
        `values expected ${v.expected}, stored once ${v.storedOnce}, missing ${v.missing}, duplicated ${v.duplicated}, ` +
        `rounded by VictoriaMetrics ${v.wrongValue}`,
    );
  }
  console.log(`haproxy: ${sum('retries')} retries, ${sum('redispatches')} redispatches`);
}
if (code === 0) console.log('DRILL PASSED');
else {
  console.log(output.slice(-6_000));
  console.log('DRILL FAILED');
}
process.exit(code ?? 1);
