import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = `${root}cli/bin.ts`;
// node itself with tsx's loader, not the tsx wrapper: one process, so a signal (SIGKILL too) reaches the node.
const node = process.execPath;
const nodeArgs = ['--import', pathToFileURL(`${root}node_modules/tsx/dist/loader.mjs`).href, bin];

/** Runs `telemetry <args>` from the checkout, as a user would, and returns its output. */
export async function telemetry(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  const { stdout, stderr } = await promisify(execFile)(node, [...nodeArgs, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
  });
  return { stdout, stderr };
}

/** A `telemetry serve` child process. */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly httpUrl: string;
  /** Both streams, interleaved as they arrived. */
  readonly output: () => string;
  /** stdout alone (JSON log lines) and stderr alone (human lines). */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the exit code when the process ends, however it ends. */
  readonly exited: Promise<number | null>;
  /** Sends a signal and resolves with the exit code once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `telemetry serve` in `cwd` with `env` and waits until it prints
 * where it listens (or fails with what it printed).
 */
export async function startServe(options: {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}): Promise<ServeProcess> {
  const child = spawn(node, [...nodeArgs, 'serve'], {
    cwd: options.cwd,
    env: { ...process.env, TELEMETRY_HTTP_HOST: '127.0.0.1', TELEMETRY_HTTP_PORT: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const httpUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), options.timeoutMs ?? 30_000);
    const look = () => {
      const match = /listening on (http:\/\/[\d.:]+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    // The human "listening on" line is on stderr: stdout holds JSON log lines only.
    child.stdout?.on('data', look);
    child.stderr?.on('data', look);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${output}`));
    });
  });
  return {
    child,
    httpUrl,
    output: () => output,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Reads a node's /metrics once; the function gives a series' value, e.g. of `telemetry_readings_written_total` (0 while it is not there yet). */
export async function metricsOf(httpUrl: string): Promise<(series: string) => number> {
  const lines = (await (await fetch(`${httpUrl}/metrics`)).text()).split('\n');
  return (series) => {
    const line = lines.find((text) => text.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  };
}

/** How many messages a node accepted (verified and stored) over `transport`, from its /metrics. */
export async function acceptedBy(node: ServeProcess, transport: 'http' | 'mqtt'): Promise<number> {
  return (await metricsOf(node.httpUrl))(`telemetry_messages_accepted_total{transport="${transport}"}`);
}
