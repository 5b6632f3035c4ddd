import { type ChildProcess, spawn } from 'node:child_process';
import { access, constants, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { pollUntil } from './poll-until.js';

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

/** Finds `name` on PATH, or throws an error naming the Debian package that provides it. */
/** Resolves true once something accepts TCP connections on 127.0.0.1:`port`. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

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
