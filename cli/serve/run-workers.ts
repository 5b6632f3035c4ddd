import cluster, { type Worker } from 'node:cluster';

export interface WorkerPoolOptions {
  readonly workers: number;
  readonly log: (line: string) => void;
  /** Longest to wait for workers to drain after a signal before killing them, in ms. */
  readonly shutdownTimeoutMs: number;
}

/**
 * Runs `workers` copies of this process with node:cluster, sharing the
 * listening ports (the primary accepts and hands connections out). Nothing
 * else is shared, because a node holds nothing that matters. A worker that
 * dies is replaced (after a second, so a crash loop does not spin); SIGTERM or
 * SIGINT is passed on to every worker, and the primary exits when they have.
 * Resolves in the primary when all workers are gone.
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
      options.log(`${signal} received, draining ${Object.keys(cluster.workers ?? {}).length} workers\n`);
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      for (const worker of workers) worker.process.kill(signal);
      const deadline = setTimeout(() => {
        for (const worker of workers) worker.process.kill('SIGKILL');
      }, options.shutdownTimeoutMs + 5_000);
      deadline.unref();
      const check = () => {
        if (Object.keys(cluster.workers ?? {}).length === 0) {
          clearTimeout(deadline);
          resolve();
        }
      };
      cluster.on('exit', check);
      check();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
