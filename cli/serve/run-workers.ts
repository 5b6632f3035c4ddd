import cluster, { type Worker } from 'node:cluster';

export interface WorkerPoolOptions {
  readonly workers: number;
  readonly log: (line: string) => void;
  /** How long a worker may take to drain after a signal, in ms; its own deadline is the same setting. */
  readonly shutdownTimeoutMs: number;
}

/** Beyond the drain deadline, how long the primary waits for a worker to exit before killing it: a backstop. */
const WORKER_EXIT_GRACE_MS = 2_000;

/**
 * Runs `workers` copies of this process with node:cluster, sharing the
 * listening ports (the primary accepts and hands connections out). Nothing
 * else is shared, because a node holds nothing that matters. A worker that
 * dies is replaced (after a second, so a crash loop does not spin).
 *
 * SIGTERM or SIGINT is passed on to every worker, which drains (within
 * `shutdownTimeoutMs`), disconnects from the primary and exits by itself; the
 * primary resolves once they all have. A worker still alive
 * {@link WORKER_EXIT_GRACE_MS} after its drain deadline is killed, and the
 * primary says so: that is a bug to report, never the normal path.
 */
export function runWorkers(options: WorkerPoolOptions): Promise<void> {
  let stopping = false;
  const spawn = (): Worker => cluster.fork();
  for (let i = 0; i < options.workers; i++) spawn();

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    options.log(`worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`);
    setTimeout(spawn, 1000).unref();
  });

  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      options.log(`${signal} received, draining ${workers.length} workers\n`);
      for (const worker of workers) worker.process.kill(signal);
      const backstop = setTimeout(() => {
        const left = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
        options.log(
          `${left.length} workers did not exit ${WORKER_EXIT_GRACE_MS} ms after their drain deadline; killing them\n`,
        );
        for (const worker of left) worker.process.kill('SIGKILL');
      }, options.shutdownTimeoutMs + WORKER_EXIT_GRACE_MS);
      backstop.unref();
      const check = () => {
        if (Object.keys(cluster.workers ?? {}).length > 0) return;
        clearTimeout(backstop);
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        resolve();
      };
      cluster.on('exit', check);
      check();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
