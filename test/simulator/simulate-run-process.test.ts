import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { simulateCommand } from '../../cli/simulate/simulate-command.js';
import { provisionFleet, type RunReport, readFleet } from '../../simulator/index.js';
import { capturingIo } from '../support/capturing-io.js';
import { pollUntil } from '../support/poll-until.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';
import { auditStore, type FleetNode, startFleetNode } from './fleet-node.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let dir = '';
let fleetNode: FleetNode | undefined;
let serve: ServeProcess | undefined;

afterEach(async () => {
  await fleetNode?.close();
  fleetNode = undefined;
  await serve?.stop();
  serve = undefined;
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
  dir = '';
});

/** A fleet of `devices` in a new temporary folder, and a node that knows its keys. */
async function fleetAndNode(devices: number): Promise<FleetNode> {
  dir = mkdtempSync(join(tmpdir(), 'sim-run-'));
  const fleetDir = join(dir, 'fleet');
  await provisionFleet({
    dir: fleetDir,
    devices,
    alg: 'ES256',
    kinds: ['thermo'],
    keySource: 'registry',
    seed: 'run',
    credentialTtlSeconds: 86_400,
    now: Date.now(),
  });
  fleetNode = await startFleetNode(fleetDir, await readFleet(fleetDir));
  return fleetNode;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `telemetry simulate …` in-process, in `dir`. */
async function simulate(argv: readonly string[], env: Record<string, string> = {}) {
  const captured = capturingIo({ cwd: dir, env });
  const code = await simulateCommand.run(argv, captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

describe('telemetry simulate run: where it sends', () => {
  it('sends to TELEMETRY_URL when --url is not given, and names it at the start', async () => {
    const node = await fleetAndNode(2);
    const { code, stdout, stderr } = await simulate(['run', '--fleet', 'fleet', '--messages', '2', '--rate', '5'], {
      TELEMETRY_URL: node.httpUrl,
    });
    expect(stderr.split('\n')[0]).toBe(`telemetry simulate run: 2 devices over http to ${node.httpUrl}`);
    expect(stdout).toContain('ok: 2 devices over http');
    expect(code).toBe(0);
  });

  it('sends to TELEMETRY_MQTT_URL over MQTT when --mqtt-url is not given', async () => {
    const node = await fleetAndNode(2);
    const argv = ['run', '--fleet', 'fleet', '--transport', 'mqtt', '--messages', '2', '--rate', '5'];
    const { code, stderr } = await simulate(argv, { TELEMETRY_MQTT_URL: node.mqttUrl });
    expect(stderr.split('\n')[0]).toBe(`telemetry simulate run: 2 devices over mqtt to ${node.mqttUrl}`);
    expect(code).toBe(0);
  });

  it.each([
    ['http', '--url', 'http://127.0.0.1:PORT', '--url or TELEMETRY_URL'],
    ['mqtt', '--mqtt-url', 'mqtt://127.0.0.1:PORT', '--mqtt-url or TELEMETRY_MQTT_URL'],
  ])(
    'over %s, stops at once with exit code 69 and no report when nothing answers',
    async (transport, flag, url, hint) => {
      await fleetAndNode(1);
      const target = url.replace('PORT', String(await closedPort()));
      const argv = ['run', '--fleet', 'fleet', '--transport', transport, flag, target, '--duration', '10m'];
      const { code, stdout, stderr } = await simulate([...argv, '--drain-timeout', '10m', '--report', 'run.json']);
      expect(code).toBe(69);
      expect(stdout).toBe('');
      expect(stderr).toContain(`nothing answers at ${target} (ECONNREFUSED): start a node there (telemetry serve)`);
      expect(stderr).toContain(hint);
      expect(() => readFileSync(join(dir, 'run.json'))).toThrow();
    },
  );
});

/** `telemetry simulate run` as a process of its own, as a user starts it, with stderr not a terminal. */
function startRunProcess(args: readonly string[]) {
  const loader = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  const child = spawn(process.execPath, ['--import', loader, join(ROOT, 'cli/bin.ts'), 'simulate', 'run', ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

describe('telemetry simulate run as a process', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    'on %s stops sending, prints the summary and writes the report marked interrupted (exit %i)',
    async (signal, exitCode) => {
      const node = await fleetAndNode(3);
      const run = startRunProcess(
        ['--fleet', 'fleet', '--url', node.httpUrl, '--rate', '5', '--duration', '10m'].concat([
          '--drain-timeout',
          '10m',
          '--progress-every',
          '1s',
          '--report',
          'run.json',
        ]),
      );
      try {
        // Without a terminal, a plain progress line comes every --progress-every; wait for one with acknowledgements.
        await pollUntil(
          async () => /^telemetry simulate run: \d+s {2}devices 3\/3 .* acked [1-9]/m.test(run.stderr()),
          'progress',
          60_000,
        );
        run.child.kill(signal);
        expect(await run.exited).toBe(exitCode);
      } finally {
        run.child.kill('SIGKILL');
      }
      expect(run.stderr()).toContain(`${signal} received: stopping`);
      expect(run.stdout()).toMatch(/^INTERRUPTED: 3 devices over http/);
      expect(run.stdout()).toContain(`problem: interrupted by ${signal}`);
      const report = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunReport;
      expect(report.interrupted).toBe(true);
      expect(report.ok).toBe(false);
      expect(report.totals.readingsAcknowledged).toBeGreaterThan(0);
      // Far fewer readings than ten minutes' worth: sampling stopped with the signal.
      expect(report.totals.readingsSampled).toBeLessThan(3 * 5 * 600);
      // Every reading acknowledged before the signal is in the store, once, with the value sent.
      expect((await auditStore(node.store, report)).problems).toEqual([]);
    },
    90_000,
  );
});

describe('telemetry simulate verify against a running node', () => {
  it('says the node holds the embedded store and to pass --url and --token instead', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sim-verify-'));
    const dataDir = join(dir, 'data');
    serve = await startServe({ cwd: dir, env: { TELEMETRY_DATA_DIR: dataDir, TELEMETRY_MQTT: 'off' } });
    const report = { version: 1, devices: [] };
    writeFileSync(join(dir, 'run.json'), JSON.stringify(report));
    const { code, stderr } = await simulate(['verify', '--report', 'run.json'], { TELEMETRY_DATA_DIR: dataDir });
    expect(code).toBe(1);
    expect(stderr).toContain(
      `a running node (process ${serve.child.pid}) holds the embedded store ${join(dataDir, 'telemetry.duckdb')}`,
    );
    expect(stderr).toContain('pass --url URL and --token TOKEN');
  });
});
