import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll-until.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The processes whose parent is `pid`, with their command lines (Linux /proc). */
async function childrenOf(pid: number): Promise<{ pid: number; command: string }[]> {
  const children: { pid: number; command: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const command = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' ').trim();
      children.push({ pid: Number(entry), command });
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let dir: string | undefined;
let npm: ChildProcess | undefined;

afterEach(async () => {
  // npm runs in a process group of its own: whatever it started goes with it, even when the test failed early.
  try {
    if (npm?.pid !== undefined) process.kill(-npm.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
  npm = undefined;
});

describe('npm start', () => {
  it('runs the node as npm’s own child, so a SIGTERM to npm drains the node, which exits and frees its port', async () => {
    expect(existsSync(join(root, 'dist', 'cli', 'bin.js')), 'dist/ is built (npm run build)').toBe(true);
    dir = await mkdtemp(join(tmpdir(), 'npm-start-'));
    await copyFile(join(root, 'package.json'), join(dir, 'package.json'));
    await symlink(join(root, 'node_modules'), join(dir, 'node_modules'));
    await symlink(join(root, 'dist'), join(dir, 'dist'));
    const http = await freePort();
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TELEMETRY_')));
    const started = spawn('npm', ['start'], {
      cwd: dir,
      env: { ...env, TELEMETRY_HTTP_PORT: String(http), TELEMETRY_MQTT_PORT: String(await freePort()) },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    npm = started;
    let output = '';
    started.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    started.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = once(started, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    await pollUntil(async () => (await fetch(`http://127.0.0.1:${http}/readyz`)).ok, 'the node to be ready', 60_000);

    const children = await childrenOf(started.pid ?? 0);
    expect(children.map((child) => child.command)).toEqual(['node dist/cli/bin.js serve']);
    const nodePid = children[0]?.pid ?? 0;

    started.kill('SIGTERM');
    const [code] = await exited;

    expect(code, output).toBe(0);
    await pollUntil(async () => !isAlive(nodePid), 'the node process to be gone', 10_000);
    expect(await portAnswers(http)).toBe(false);
  }, 120_000);
});
