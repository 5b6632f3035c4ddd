import { readFile, stat } from 'node:fs/promises';

/**
 * The id of the process holding a lock on `path` (a running node on its DuckDB file), read from
 * Linux's /proc/locks by the file's inode, since DuckDB's error carries no code to tell a lock by.
 * Undefined when no process holds one, or where /proc/locks does not exist.
 */
export async function storeLockHolder(path: string): Promise<number | undefined> {
  try {
    const { ino } = await stat(path);
    const locks = await readFile('/proc/locks', 'utf8');
    for (const line of locks.split('\n')) {
      // `1: POSIX  ADVISORY  WRITE 16481 08:01:1234567 0 EOF`: the pid, then major:minor:inode.
      const [, , , , pid, file] = line.trim().split(/\s+/);
      if (file?.split(':')[2] === String(ino) && pid !== undefined && /^\d+$/.test(pid)) return Number(pid);
    }
  } catch {
    // No such file, or no /proc/locks: nothing can be said about a lock.
  }
  return undefined;
}
