import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `telemetry --help`, `keys sign` and `query` must feel instant: the README signs each message with
// $(telemetry keys sign …). Each command imports what it uses when it runs, so these three never load the
// node's libraries. Measured on the compiled CLI (what `npx telemetry` runs) as the CPU time each process
// spent, start-up included, over that of a bare `node -e ''` started in turn with it: on a busy machine
// wall time measures the other processes, CPU time much less so.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

/** Appends every module the process resolves to the file in TRACE_FILE. */
const TRACE_HOOK = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.TRACE_FILE, resolved.url + '\\\\n');
  return resolved;
}\`));`,
)}`;

/** Writes the process's CPU time (user and system, µs), start-up included, to the file in CPU_FILE at exit. */
const CPU_HOOK = `data:text/javascript,${encodeURIComponent(
  `import { writeFileSync } from 'node:fs';
process.on('exit', () => { const { user, system } = process.cpuUsage(); writeFileSync(process.env.CPU_FILE, String(user + system)); });`,
)}`;

/** The node's heavy libraries: none of them may load for a command that does not run a node or a fleet. */
const HEAVY = /node_modules\/(@duckdb|fastify|@fastify|aedes|mqtt|@influxdata|prom-client|pino)\//;

let dir = '';
let bin = '';
let server: Server | undefined;
let url = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cli-start-'));
  // The CLI compiled as `npm run build` compiles it, beside the checkout's packages.
  await run(process.execPath, [
    join(ROOT, 'node_modules/typescript/bin/tsc'),
    '-p',
    join(ROOT, 'tsconfig.build.json'),
    '--outDir',
    join(dir, 'built'),
  ]);
  cpSync(join(ROOT, 'package.json'), join(dir, 'built/package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'built/node_modules'));
  bin = join(dir, 'built/cli/bin.js');
  await run(process.execPath, [bin, 'keys', 'generate', '--device', 'boiler-7', '--out', 'keys'], {
    cwd: dir,
  });
  // A query API that answers every request with one series: enough for `telemetry query series`.
  server = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ items: [{ device: 'boiler-7', metric: 'temp', lastSeen: 1 }] }));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 240_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

const COMMANDS: Record<string, () => string[]> = {
  '--help': () => ['--help'],
  'keys sign': () => ['keys', 'sign', '--key', 'keys/boiler-7.key.json', '--value', 'temp=21.5'],
  'query series': () => ['query', 'series', '--url', url, '--token', 'not-checked-here'],
};

/** Runs `node args`, in `dir`, and resolves with the CPU time it took, ms. */
async function cpuMs(args: readonly string[]): Promise<number> {
  const file = join(dir, 'cpu.txt');
  await run(process.execPath, ['--import', CPU_HOOK, ...args], { cwd: dir, env: { ...process.env, CPU_FILE: file } });
  return Number(readFileSync(file, 'utf8')) / 1000;
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

describe('telemetry start-up', () => {
  it.each(Object.keys(COMMANDS))(
    '%s loads none of DuckDB, fastify, aedes, mqtt, InfluxDB, prom-client or pino',
    async (name) => {
      const trace = join(dir, `trace-${name.replace(/\W/g, '')}.txt`);
      const { stdout } = await run(process.execPath, ['--import', TRACE_HOOK, bin, ...(COMMANDS[name]?.() ?? [])], {
        cwd: dir,
        env: { ...process.env, TRACE_FILE: trace },
      });
      expect(stdout).not.toBe('');
      const loaded = readFileSync(trace, 'utf8').split('\n');
      expect(loaded.some((module) => module.endsWith('/cli/main.js'))).toBe(true);
      expect(loaded.filter((module) => HEAVY.test(module))).toEqual([]);
    },
  );

  it('--help, keys sign and query cost little more CPU than a bare node -e (median of 7, taken in turn)', async () => {
    const times = new Map<string, number[]>([
      ['node -e', []],
      ...Object.keys(COMMANDS).map((n) => [n, []] as [string, number[]]),
    ]);
    for (let round = 0; round < 7; round++) {
      times.get('node -e')?.push(await cpuMs(['-e', '']));
      for (const [name, args] of Object.entries(COMMANDS)) times.get(name)?.push(await cpuMs([bin, ...args()]));
    }
    const bare = median(times.get('node -e') ?? []);
    const report = [...times].map(([name, ms]) => `${name} ${median(ms).toFixed(0)} ms`).join(', ');
    console.log(`start-up CPU time, medians: ${report}`);
    // Each is within ~150 ms of a bare node's ~130 ms here; three times the bare start leaves room for a
    // loaded machine, and still fails when a command loads the node's libraries again (eight times or more).
    for (const name of Object.keys(COMMANDS)) expect(median(times.get(name) ?? []) / bare, report).toBeLessThan(3);
  }, 120_000);
});
