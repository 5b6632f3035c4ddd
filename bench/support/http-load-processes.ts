import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pinned } from './core-plan.js';
import { type HttpSaturationOptions, TAIL_S } from './http-load.js';
import type { LoadProcessReport, LoadProcessSpec } from './http-load-process.js';
import { atWallClock, type LoadWindow } from './load-window.js';
import { scriptArgs } from './node-runtime.js';

/** The child, run from its source with tsx's loader (it is not part of the node's build). */
const CHILD = scriptArgs('bench/support/http-load-process.ts', 'tsx');

/** Time the load processes get to start and read their messages before the load begins, ms. */
const START_DELAY_MS = 3_000;

/**
 * {@link saturateHttp}'s measurement with the load spread over processes, one on each of `loadCores` (pinned with
 * `taskset` where a core is named): for a node of many workers, which one load-generating thread cannot keep
 * busy. The messages are dealt out among the processes in turn (each message goes to one process), the
 * connections divided among them; all processes open and close the window at the same wall-clock marks, when this
 * process also reads the node's and the store's CPU. The load generator's CPU is the processes' own.
 */
export async function saturateHttpInProcesses(
  options: HttpSaturationOptions & {
    readonly loadCores: readonly (string | undefined)[];
    /** A folder for the processes' message files. */
    readonly dir: string;
  },
): Promise<LoadWindow> {
  const count = options.loadCores.length;
  const shares = Array.from({ length: count }, (_, k) => options.messages.filter((_, i) => i % count === k));
  const files = await Promise.all(
    shares.map(async (share, i) => {
      const file = join(options.dir, `load-${i}.messages`);
      await writeFile(file, `${share.join('\n')}\n`);
      return file;
    }),
  );
  const startAt = Date.now() + START_DELAY_MS;
  const openAt = startAt + options.warmupS * 1000;
  const closeAt = openAt + options.measureS * 1000;
  const runs = options.loadCores.map((core, i) =>
    runChild(core, {
      httpUrl: options.server.httpUrl,
      messagesFile: files[i] as string,
      connections: Math.max(1, Math.ceil(options.connections / count)),
      startAt,
      openAt,
      closeAt,
      durationS: options.warmupS + options.measureS + TAIL_S,
      ...(options.messagesPerRequest === undefined ? {} : { messagesPerRequest: options.messagesPerRequest }),
    }),
  );
  const marks = serverMarks(options.server, openAt, closeAt);
  const reports = await Promise.all(runs);
  const { opened, closed } = await marks;
  return {
    acknowledged: reports.reduce((sum, r) => sum + r.acknowledged, 0),
    failed: reports.reduce((sum, r) => sum + r.failed, 0),
    seconds: (closed.at - opened.at) / 1000,
    serverCpuSeconds: closed.cpu - opened.cpu,
    storeCpuSeconds: closed.store - opened.store,
    loadCpuSeconds: reports.reduce((sum, r) => sum + r.cpuSeconds, 0),
    poolWraps: Math.max(...reports.map((r) => r.wraps)),
  };
}

/** Reads the server's and the store's CPU at the two marks. */
async function serverMarks(server: HttpSaturationOptions['server'], openAt: number, closeAt: number) {
  const mark = async (epochMs: number) => {
    await atWallClock(epochMs);
    return { at: performance.now(), cpu: server.cpuSeconds(), store: server.storeCpuSeconds() };
  };
  const opened = await mark(openAt);
  const closed = await mark(closeAt);
  return { opened, closed };
}

/** Starts one load process; resolves with its report once it has ended, rejects with its output if it failed. */
function runChild(core: string | undefined, spec: LoadProcessSpec): Promise<LoadProcessReport> {
  const [command, args] = pinned(core, process.execPath, [...CHILD, JSON.stringify(spec)]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as LoadProcessReport);
      else reject(new Error(`load process on core ${core ?? 'any'} exited with ${code}: ${stderr}`));
    });
  });
}
