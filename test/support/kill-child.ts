import { readdir, readFile } from 'node:fs/promises';
import { basename } from 'node:path';

/**
 * The ids of this process's children whose program (the first word of /proc/PID/cmdline) is named `name`, e.g.
 * `victoria-metrics` or `influxd`. Linux only. For servers a test support helper started without exposing its
 * process, such as those of {@link runServerProcess}.
 */
async function childPidsNamed(name: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...; comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const program = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0')[0] ?? '';
      if (basename(program) === name) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * Sends SIGKILL to this process's one child named `name` (see {@link childPidsNamed}) and resolves once it is gone;
 * fails when there is not exactly one. A hard kill: the process gets no chance to flush anything.
 */
export async function killChildNamed(name: string): Promise<number> {
  const pids = await childPidsNamed(name);
  const [pid] = pids;
  if (pid === undefined || pids.length !== 1) throw new Error(`expected one child process ${name}, found ${pids}`);
  process.kill(pid, 'SIGKILL');
  // Gone once kill(pid, 0) fails, or the process is a zombie its parent has not reaped yet.
  for (;;) {
    try {
      process.kill(pid, 0);
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return pid;
    } catch {
      return pid;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
