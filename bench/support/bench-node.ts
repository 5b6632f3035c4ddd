import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../../test/support/poll-until.js';
import { freePort } from '../../test/support/server-process.js';
import { pinned } from './core-plan.js';
import { type NodeRuntime, scriptArgs } from './node-runtime.js';
import { cpuSecondsOfTree } from './proc-cpu.js';

/**
 * Which store the measured node writes to. A VictoriaMetrics store may say how much CPU its server
 * process has used (`cpuSeconds`), so a window can count the store's work too.
 */
export type BenchStore =
  | { readonly kind: 'duckdb' }
  | { readonly kind: 'victoriametrics'; readonly url: string; readonly cpuSeconds?: () => number };

/** A server process under measurement: where it listens and how much CPU it has used. */
export interface MeasuredServer {
  readonly pid: number;
  readonly httpUrl: string;
  /** The embedded broker's URL; undefined when MQTT is off. */
  readonly mqttUrl: string | undefined;
  /** CPU seconds used so far by the process and its workers (all threads). */
  cpuSeconds(): number;
  /** CPU seconds used so far by a separate store server (VictoriaMetrics); 0 for an embedded store. */
  storeCpuSeconds(): number;
  output(): string;
  stop(): Promise<void>;
}

export interface ServerSpawn {
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly httpUrl: string;
  readonly mqttUrl?: string;
  /** Resolves true once the server takes traffic. */
  readonly ready: (output: string) => Promise<boolean>;
  readonly cleanup?: () => Promise<void>;
  readonly store?: BenchStore;
  /** Cores the server (and every process it starts) may run on, a `taskset -c` list; anywhere when omitted. */
  readonly cores?: string;
}

/** The environment without any TELEMETRY_* setting of the calling shell, so only what a benchmark sets applies. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TELEMETRY_')));
}

/** Spawns a server and waits until it is ready; kills it if it does not get there. */
export async function spawnMeasuredServer(spec: ServerSpawn): Promise<MeasuredServer> {
  // taskset runs node in its own process (exec), so the pid is the node's.
  const [command, args] = pinned(spec.cores, process.execPath, spec.args);
  const child: ChildProcess = spawn(command, args, {
    cwd: spec.cwd,
    env: { ...cleanEnv(), NODE_ENV: 'production', ...spec.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (alive()) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await spec.cleanup?.();
  };
  try {
    await pollUntil(
      async () => {
        if (!alive()) throw new Error(`server exited:\n${output}`);
        return spec.ready(output);
      },
      `the server at ${spec.httpUrl}`,
      120_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  const pid = child.pid as number;
  return {
    pid,
    httpUrl: spec.httpUrl,
    mqttUrl: spec.mqttUrl,
    cpuSeconds: () => cpuSecondsOfTree(pid),
    storeCpuSeconds: () => (spec.store?.kind === 'victoriametrics' ? (spec.store.cpuSeconds?.() ?? 0) : 0),
    output: () => output,
    stop,
  };
}

export interface BenchNodeOptions {
  readonly runtime: NodeRuntime;
  readonly store: BenchStore;
  readonly registryFile: string;
  /** Run the embedded broker (default true). */
  readonly mqtt?: boolean;
  /** TELEMETRY_WORKERS (default 1). */
  readonly workers?: number;
  /** More settings, e.g. batching. */
  readonly env?: Record<string, string>;
  /** Cores the node and its workers may run on (`taskset -c` list); anywhere when omitted. */
  readonly cores?: string;
}

/**
 * Starts `telemetry serve` as a production node would run (NODE_ENV=production, default log level and
 * batching) on free loopback ports, with its data folder in a fresh temporary directory.
 */
export async function startBenchNode(options: BenchNodeOptions): Promise<MeasuredServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'telemetry-bench-node-'));
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const mqtt = options.mqtt ?? true;
  const workers = options.workers ?? 1;
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const storeEnv: Record<string, string> =
    options.store.kind === 'duckdb'
      ? { TELEMETRY_STORE: 'embedded' }
      : {
          TELEMETRY_STORE: 'influxdb',
          TELEMETRY_INFLUX_URL: options.store.url,
          TELEMETRY_INFLUX_QUERY: 'victoriametrics',
        };
  return spawnMeasuredServer({
    args: [...scriptArgs('cli/bin.ts', options.runtime), 'serve'],
    cwd: dataDir,
    env: {
      TELEMETRY_HTTP_HOST: '127.0.0.1',
      TELEMETRY_HTTP_PORT: String(httpPort),
      TELEMETRY_MQTT: mqtt ? 'embedded' : 'off',
      TELEMETRY_MQTT_HOST: '127.0.0.1',
      TELEMETRY_MQTT_PORT: String(mqttPort),
      TELEMETRY_KEY_REGISTRY: options.registryFile,
      TELEMETRY_DATA_DIR: dataDir,
      TELEMETRY_WORKERS: String(workers),
      ...storeEnv,
      ...options.env,
    },
    httpUrl,
    ...(mqtt ? { mqttUrl: `mqtt://127.0.0.1:${mqttPort}` } : {}),
    async ready(output) {
      // Every worker says where it listens (MQTT included) once it is up.
      const listening = output.match(/ingest node listening on/g)?.length ?? 0;
      return listening >= workers && (await fetch(`${httpUrl}/readyz`)).ok;
    },
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
    store: options.store,
    ...(options.cores === undefined ? {} : { cores: options.cores }),
  });
}

/** Sums every sample of a Prometheus counter in the node's /metrics (one worker's, with several). */
export async function metricTotal(httpUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/**
 * Sums the samples of `name` in the node's /metrics that carry every label of `labels` (e.g. one histogram bucket:
 * `{ le: '0.05' }`).
 */
export async function metricWithLabels(
  httpUrl: string,
  name: string,
  labels: Readonly<Record<string, string>>,
): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const set = line.slice(name.length + 1, line.lastIndexOf('}')).split(',');
    if (wanted.every((pair) => set.includes(pair))) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
