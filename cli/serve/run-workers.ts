import cluster, { type Worker } from 'node:cluster';
import { isStartFailureMessage, type StartFailureReport } from './start-failure.js';

export interface WorkerPoolOptions {
  readonly workers: number;
  readonly log: (line: string) => void;
  /** Prints a worker's start-up failure report as it is. */
  readonly report: (text: string) => void;
  /** How long a worker may take to drain after a signal, in ms; its own deadline is the same setting. */
  readonly shutdownTimeoutMs: number;
}

/** The exit code of a worker whose settings stop it from starting (sysexits.h). */
const EX_CONFIG = 78;

/** Beyond the drain deadline, how long the primary waits for a worker to exit before killing it: a backstop. */
const WORKER_EXIT_GRACE_MS = 2_000;

/**
 * Runs `workers` copies of this process with node:cluster, sharing the
 * listening ports (the primary accepts and hands connections out). Nothing
 * else is shared, because a node holds nothing that matters. A worker that
 * dies is replaced (after a second, so a crash loop does not spin).
 *
 * A worker that cannot start (a key set, a TLS file, a port in use) sends its
 * report to the primary and exits: every worker would fail the same way, so
 * the primary prints the first report once, stops the others and resolves
 * with the report's exit code (78 for a setting) instead of replacing them.
 *
 * SIGTERM or SIGINT is passed on to every worker, which drains (within
 * `shutdownTimeoutMs`), disconnects from the primary and exits by itself; the
 * primary resolves with 0 once they all have. A worker still alive
 * {@link WORKER_EXIT_GRACE_MS} after its drain deadline is killed, and the
 * primary says so: that is a bug to report, never the normal path.
 */
export function runWorkers(options: WorkerPoolOptions): Promise<number> {
  let stopping = false;
  let exitCode = 0;
  const spawn = (): Worker => cluster.fork();
  for (let i = 0; i < options.workers; i++) spawn();

  return new Promise((resolve) => {
    const liveWorkers = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const finishWhenAllExited = () => {
      const check = () => {
        if (Object.keys(cluster.workers ?? {}).length > 0) return;
        clearTimeout(backstop);
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        resolve(exitCode);
      };
      const backstop = setTimeout(() => {
        const left = liveWorkers();
        options.log(
          `${left.length} workers did not exit ${WORKER_EXIT_GRACE_MS} ms after their drain deadline; killing them\n`,
        );
        for (const worker of left) worker.process.kill('SIGKILL');
      }, options.shutdownTimeoutMs + WORKER_EXIT_GRACE_MS);
      backstop.unref();
      cluster.on('exit', check);
      check();
    };
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      const workers = liveWorkers();
      options.log(`${signal} received, draining ${workers.length} workers\n`);
      for (const worker of workers) worker.process.kill(signal);
      finishWhenAllExited();
    };
    const failedToStart = (report: StartFailureReport) => {
      if (stopping) return;
      stopping = true;
      exitCode = report.code;
      options.report(report.text);
      for (const worker of liveWorkers()) worker.process.kill('SIGTERM');
      finishWhenAllExited();
    };

    cluster.on('message', (_worker, message: unknown) => {
      if (isStartFailureMessage(message)) failedToStart(message.report);
    });
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      if (code === EX_CONFIG) {
        // Its report did not arrive: still no replacement, since it would fail the same way.
        return failedToStart({ code, text: `telemetry serve: worker ${worker.process.pid} could not start\n` });
      }
      options.log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`);
      setTimeout(spawn, 1000).unref();
    });
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
