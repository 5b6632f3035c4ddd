import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const root = fileURLToPath(new URL('../../', import.meta.url));
// node with tsx's loader, not the tsx wrapper: one process, so SIGKILL reaches the bridge itself.
const nodeArgs = ['--import', pathToFileURL(`${root}node_modules/tsx/dist/loader.mjs`).href, `${root}cli/bin.ts`];

/** A `telemetry bridge` child process. */
export interface BridgeProcess {
  readonly child: ChildProcess;
  readonly httpUrl: string;
  readonly output: () => string;
  /** Sends a signal (SIGKILL: no chance to flush anything) and resolves once the process is gone. */
  /** Resolves once the bridge is subscribed on its local broker (/healthz 200). */
  subscribed(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `telemetry bridge` with `env` and waits until it prints where it listens. */
export async function startBridgeProcess(env: NodeJS.ProcessEnv, cwd: string): Promise<BridgeProcess> {
  const child = spawn(process.execPath, [...nodeArgs, 'bridge'], {
    cwd,
    env: { ...process.env, TELEMETRY_BRIDGE_HTTP_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const httpUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bridge did not start:\n${output}`)), 60_000);
    child.stdout?.on('data', () => {
      const match = /bridge listening on (http:\/\/[\d.:]+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the bridge exited:\n${output}`));
    });
  });
  return {
    child,
    httpUrl,
    output: () => output,
    async subscribed() {
      // /healthz answers 200 once the bridge is subscribed on its local broker. Before that, a new session has no
      // subscription and what a test publishes is lost.
      const deadline = Date.now() + 60_000;
      while ((await fetch(`${httpUrl}/healthz`)).status !== 200) {
        if (Date.now() > deadline) throw new Error(`the bridge did not connect to the local broker:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** Publishes one QoS 1 message with Debian's `mosquitto_pub` (package mosquitto-clients), as a plain device would. */
export async function mosquittoPub(brokerUrl: string, topic: string, payload: string): Promise<void> {
  const { hostname, port } = new URL(brokerUrl);
  await promisify(execFile)('mosquitto_pub', ['-h', hostname, '-p', port, '-q', '1', '-t', topic, '-m', payload]);
}

/** A bridge's /metrics; the function gives a series' value (0 while it is not there). */
export async function bridgeMetrics(httpUrl: string): Promise<(series: string) => number> {
  const lines = (await (await fetch(`${httpUrl}/metrics`)).text()).split('\n');
  return (series) => {
    const line = lines.find((text) => text.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  };
}
