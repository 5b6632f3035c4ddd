import { type ChildProcess, spawn } from 'node:child_process';
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A real database server started for a test, on 127.0.0.1, with its own temporary data folder. */
export interface TestServer {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Stops the process but keeps its data and port, to simulate an outage. */
  halt(): Promise<void>;
  /** Starts the process again after {@link TestServer.halt} and waits until it answers. */
  resume(): Promise<void>;
  /** Stops the process (SIGTERM, awaiting exit) and removes the data folder. */
  stop(): Promise<void>;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago (listen on port 0, then close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Calls `check` until it returns true, failing with `what` once `timeoutMs` have passed. */
export async function pollUntil(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
}

/** Finds `name` on PATH, or throws an error naming the Debian package that provides it. */
export async function requireBinary(name: string, debianPackage: string): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${name} not found on PATH: install it with \`apt-get install -y ${debianPackage}\``);
}

/** How to run one server process; shared by the InfluxDB and VictoriaMetrics helpers. */
export interface ServerProcessSpec {
  readonly binary: string;
  readonly args: readonly string[];
  readonly url: string;
  readonly dataDir: string;
  /** Resolves true once the server answers its health endpoint. */
  readonly ready: () => Promise<boolean>;
}

/** Runs a server process with start/halt/resume/stop, keeping the tail of its output for failure messages. */
export async function runServerProcess(spec: ServerProcessSpec): Promise<TestServer> {
  let child: ChildProcess | undefined;
  let output = '';

  const start = async (): Promise<void> => {
    const proc = spawn(spec.binary, [...spec.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-4_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let exited = false;
    proc.once('exit', () => {
      exited = true;
    });
    try {
      await pollUntil(async () => {
        if (exited) throw new Error(`${spec.binary} exited early:\n${output}`);
        return spec.ready();
      }, `${spec.binary} to answer at ${spec.url}`);
    } catch (error) {
      await halt();
      throw error;
    }
  };

  const halt = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    await exited;
  };

  await start();
  return {
    url: spec.url,
    halt,
    resume: start,
    async stop() {
      await halt();
      await rm(spec.dataDir, { recursive: true, force: true });
    },
  };
}

/** A running InfluxDB 1.x with one database created. */
export interface InfluxDbServer extends TestServer {
  readonly database: string;
}

/**
 * Starts `influxd` (Debian package `influxdb`, 1.6.7) on free loopback ports with a generated config and a
 * temporary data folder, waits for `/ping` and creates `database`.
 */
export async function startInfluxDb(database = 'telemetry'): Promise<InfluxDbServer> {
  const binary = await requireBinary('influxd', 'influxdb');
  const dataDir = await mkdtemp(join(tmpdir(), 'influxdb-test-'));
  const [httpPort, rpcPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${httpPort}`;
  const config = [
    'reporting-disabled = true',
    `bind-address = "127.0.0.1:${rpcPort}"`,
    '[meta]',
    `  dir = "${join(dataDir, 'meta')}"`,
    '[data]',
    `  dir = "${join(dataDir, 'data')}"`,
    `  wal-dir = "${join(dataDir, 'wal')}"`,
    '  query-log-enabled = false',
    '[monitor]',
    '  store-enabled = false',
    '[http]',
    `  bind-address = "127.0.0.1:${httpPort}"`,
    '  log-enabled = false',
    '[continuous_queries]',
    '  enabled = false',
    '',
  ].join('\n');
  const configPath = join(dataDir, 'influxdb.conf');
  await writeFile(configPath, config);
  const server = await runServerProcess({
    binary,
    args: ['run', '-config', configPath],
    url,
    dataDir,
    ready: async () => (await fetch(`${url}/ping`)).status === 204,
  });
  try {
    const body = new URLSearchParams({ q: `CREATE DATABASE "${database}"` });
    const response = await fetch(`${url}/query`, { method: 'POST', body });
    if (!response.ok) throw new Error(`CREATE DATABASE failed: HTTP ${response.status}`);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { ...server, database };
}
