import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Which cores each process of the workers bench may run on, as `taskset -c` lists: the node (its primary and all
 * its workers) on the first cores, the store server on the next, and one load-generating process on each core
 * left. The node's share is fixed for every worker count, so 1, 2 and N workers meet the same store and load.
 */
export interface CorePlan {
  /** Cores of the node when it runs `workers` workers: the first `workers` of its share. */
  node(workers: number): string;
  readonly store: string;
  /** One core a load process. */
  readonly load: readonly string[];
  /** The largest worker count the node's share holds. */
  readonly maxWorkers: number;
}

/** A machine of fewer cores than this shares its cores among node, store and load generator, unpinned. */
export const PIN_FROM_CORES = 8;

/**
 * Half the cores for the node (its worker counts: 1, 2, 4, … up to that half), an eighth (at least one) for the
 * store, the rest for load: on 16 cores the node gets 0–7, VictoriaMetrics 8–9 and six load processes 10–15.
 * From 2 cores up when asked (`cores` ≥ 2); undefined below.
 */
export function planCores(cores: number): CorePlan | undefined {
  if (!Number.isInteger(cores) || cores < 2) return undefined;
  const node = Math.max(1, Math.floor(cores / 2));
  const store = Math.max(1, Math.floor(cores / 8));
  const loadCores = Array.from({ length: Math.max(1, cores - node - store) }, (_, i) =>
    String(Math.min(cores - 1, node + store + i)),
  );
  return {
    node: (workers) => range(0, Math.min(node, Math.max(1, workers))),
    store: range(node, Math.min(store, cores - node)),
    load: loadCores,
    maxWorkers: node,
  };
}

/** Worker counts measured with a node share of `maxWorkers` cores: 1, 2, 4, … and `maxWorkers` itself. */
export function workerCounts(maxWorkers: number): number[] {
  const counts: number[] = [];
  for (let n = 1; n < maxWorkers; n *= 2) counts.push(n);
  counts.push(Math.max(1, maxWorkers));
  return counts;
}

/** `first`…`first + count - 1` as a `taskset -c` list (`3`, or `0-7`). */
function range(first: number, count: number): string {
  return count <= 1 ? String(first) : `${first}-${first + count - 1}`;
}

/** The command line that runs `command args` on `cores` (`taskset -c`); as it is when `cores` is undefined. */
export function pinned(cores: string | undefined, command: string, args: readonly string[]): [string, string[]] {
  return cores === undefined ? [command, [...args]] : ['taskset', ['-c', cores, command, ...args]];
}

/**
 * Moves every thread of a running process to `cores` (`taskset -a -p -c`), for a server started by code that does not
 * know about pinning (VictoriaMetrics from the tests' helper). Throws with taskset's message when it cannot.
 */
export function pinProcess(pid: number, cores: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Whether `taskset` runs here (it reads this process's affinity). */
export function canPin(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The cores process `pid` may run on as the kernel says (`Cpus_allowed_list` in /proc/<pid>/status), if it says. */
export function coresAllowed(pid: number): string | undefined {
  try {
    return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}
