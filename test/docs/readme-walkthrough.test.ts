/**
 * The README followed as written, top to bottom, twice in a row in the same checkout: every ```sh block's
 * commands run in order in one working folder, with a real node started the way the README starts it, and
 * each command's output compared with the sample the README shows. What the test must change, and the
 * commands it checks instead of running, are listed here and nowhere else:
 *
 * - Ports: the README's 8080 and 1883 may be taken on a test machine, so nodes get free ports through
 *   `TELEMETRY_HTTP_PORT` / `TELEMETRY_MQTT_PORT` (which the CLI's other commands ignore), the CLI's queries
 *   through `TELEMETRY_URL` (outside the node's terminal: the node refuses settings it does not know), and the
 *   commands that name a port (`127.0.0.1:8080`, `-p 1883`, and `simulate run`, which the README tells to
 *   pass `--url` / `--mqtt-url` when the ports are taken) get the free ones.
 * - `npx telemetry` and `npx mqtt` run this checkout's CLI and the mqtt package's CLI, through a stand-in `npx`
 *   on PATH: the real npx first installs the checkout into its cache (building it again) and reads all of
 *   node_modules on every call, which on a 2-core machine costs seconds a command.
 * - `npm ci` is not run (it would download and build); the lockfile is checked to name the same dependencies
 *   as package.json. The dependencies and the build (dist/) are this checkout's: run `npm run build` first.
 * - A terminal that runs a node is the test's: starting a node stops the one before with Ctrl-C (SIGINT to its
 *   process group), as a reader does in the node's terminal. `mqtt sub` runs in a terminal of its own until the
 *   next block has run and its output shows the README's sample.
 * - Not run: the load runs (blocks whose `simulate run` sets `--rate`: a minute of a 1 000 to 10 000 device
 *   fleet), `./scripts/install-test-deps.sh && npm test`, and `docker compose`. Their `telemetry` commands are
 *   checked against the command's own `--help` (every flag and setting exists), the script and the npm script
 *   exist, and the compose services, profiles and entrypoint named exist.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { pollUntil } from '../support/poll-until.js';
import { fencedBlocks, type ReadmeBlock, type ReadmeCommand, samplesMissing, shellBlocks } from './readme-blocks.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const cli = join(root, 'dist', 'cli', 'bin.js');

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

/** Every process group the test started, ended with SIGKILL after the test whatever happened. */
const groups = new Set<number>();

function killGroups(): void {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  groups.clear();
}

/** A command left running in a terminal of its own (its own process group, as a shell's job). */
class Terminal {
  output = '';

  constructor(readonly child: ChildProcess) {
    if (child.pid !== undefined) groups.add(child.pid);
    child.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Whether any process of the terminal's group (bash, npm, sh, node) is still there. */
  alive(): boolean {
    try {
      process.kill(-(this.child.pid ?? 0), 0);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Ctrl-C: SIGINT to the whole process group, as a terminal sends it, and resolves once every process of the
   * group is gone (the node has drained and closed its store).
   */
  async interrupt(): Promise<void> {
    if (!this.alive()) return;
    process.kill(-(this.child.pid ?? 0), 'SIGINT');
    await pollUntil(async () => !this.alive(), `Ctrl-C to end every process of:\n${this.output}`, 40_000);
  }
}

/** A reader's session: one working folder, a shell state kept between commands, a node's terminal. */
class Walkthrough {
  node: Terminal | undefined;
  watchers: { terminal: Terminal; command: ReadmeCommand; block: ReadmeBlock }[] = [];
  readonly state: string;

  constructor(
    readonly dir: string,
    readonly env: NodeJS.ProcessEnv,
    readonly http: number,
    readonly mqtt: number,
  ) {
    this.state = join(dir, '.shell-state');
  }

  /** The command with the stated substitutions (free ports) applied. */
  substitute(text: string): string {
    return text
      .replaceAll('127.0.0.1:8080', `127.0.0.1:${this.http}`)
      .replaceAll('-p 1883 ', `-p ${this.mqtt} `)
      .replace(
        /\btelemetry simulate run /,
        `telemetry simulate run --url http://127.0.0.1:${this.http} --mqtt-url mqtt://127.0.0.1:${this.mqtt} `,
      );
  }

  /** The command as a script that starts from, and saves, the shell's exported variables. */
  script(text: string): string {
    return [
      `[ -f ${this.state} ] && . ${this.state}`,
      text,
      '__status=$?',
      `export -p > ${this.state}`,
      'exit $__status',
    ].join('\n');
  }

  /** A command in a terminal of its own, which has none of the reader's exports (the node refuses unknown settings). */
  start(text: string): Terminal {
    return new Terminal(
      spawn('bash', ['-c', text], {
        cwd: this.dir,
        env: this.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
  }

  async stopNode(): Promise<void> {
    if (this.node === undefined) return;
    await this.node.interrupt();
    this.node = undefined;
    expect(await portAnswers(this.http), 'the stopped node has freed its port').toBe(false);
  }

  async stopAll(): Promise<void> {
    for (const { terminal } of this.watchers) await terminal.interrupt();
    this.watchers = [];
    await this.stopNode();
  }

  async run(block: ReadmeBlock): Promise<void> {
    const where = `README.md:${block.line} (${block.section})`;
    for (const command of block.commands) {
      let text = this.substitute(command.text);
      if (text.startsWith('npm ci && ')) {
        checkLockfile();
        text = text.slice('npm ci && '.length);
      }
      if (/(\bnpm start|\btelemetry serve)\b/.test(text)) {
        await this.stopNode();
        const node = this.start(text);
        this.node = node;
        await pollUntil(
          async () => {
            if (!node.running) throw new Error(`the node exited:\n${node.output}`);
            return (await fetch(`http://127.0.0.1:${this.http}/readyz`)).ok;
          },
          `the node started by ${where} to be ready`,
          60_000,
        );
        await pollUntil(
          async () => samplesMissing(command.samples, node.output).length === 0,
          `the node's output to show ${where}'s sample:\n${command.samples.join('\n')}\n--- it printed:\n${node.output}`,
        );
      } else if (/\bmqtt sub\b/.test(text)) {
        const connections = await this.mqttConnections();
        const terminal = this.start(text);
        this.watchers.push({ terminal, command, block });
        await pollUntil(
          async () => (await this.mqttConnections()) > connections,
          `${where}'s subscriber to connect:\n${terminal.output}`,
        );
      } else {
        const { status, output } = await this.foreground(text);
        expect(status, `${where} exits 0:\n${text}\n--- output:\n${output}`).toBe(0);
        expect(
          samplesMissing(command.samples, output),
          `${where}: sample lines the output does not show:\n${text}\n--- output:\n${output}`,
        ).toEqual([]);
      }
    }
    // A subscriber from an earlier block has seen what this block sent.
    for (const watcher of this.watchers.filter((w) => w.block !== block)) {
      await pollUntil(
        async () => samplesMissing(watcher.command.samples, watcher.terminal.output).length === 0,
        `the subscriber of README.md:${watcher.block.line} to show its sample:\n${watcher.command.samples.join('\n')}\n--- it printed:\n${watcher.terminal.output}`,
      );
      await watcher.terminal.interrupt();
    }
    this.watchers = this.watchers.filter((w) => w.block === block);
  }

  async foreground(text: string): Promise<{ status: number; output: string }> {
    const child = spawn('bash', ['-c', this.script(text)], {
      cwd: this.dir,
      env: { ...this.env, TELEMETRY_URL: `http://127.0.0.1:${this.http}` },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) groups.add(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    return { status: code ?? -1, output: `${stdout}\n${stderr}` };
  }

  async mqttConnections(): Promise<number> {
    const metrics = await (await fetch(`http://127.0.0.1:${this.http}/metrics`)).text();
    const line = metrics.split('\n').find((text) => text.startsWith('telemetry_mqtt_connections'));
    return Number(line?.split(' ').at(-1) ?? 0);
  }
}

/** `npm ci` installs what package-lock.json holds: it must name exactly package.json's dependencies. */
function checkLockfile(): void {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, Record<string, unknown>>;
  };
  const locked = lock.packages[''] ?? {};
  expect(locked.dependencies).toEqual(pkg.dependencies);
  expect(locked.devDependencies).toEqual(pkg.devDependencies);
}

/** The load runs: a `simulate run` with `--rate` (a minute of a large fleet) marks its block. */
const isLoadRun = (block: ReadmeBlock) =>
  block.commands.some((command) => /\bsimulate run\b[\s\S]*--rate\b/.test(command.text));
/**
 * Commands checked, not run: the test set-up, docker compose, and the bridge, which runs until stopped beside
 * the devices' own broker (a Mosquitto the walkthrough does not have; test/bridge runs it for real).
 */
const isChecked = (command: ReadmeCommand) =>
  /^(\.\/scripts\/|docker compose |npx telemetry bridge |mosquitto_pub )/.test(command.text);

const helpOf = new Map<string, string>();
async function help(words: readonly string[]): Promise<string> {
  const key = words.join(' ');
  const known = helpOf.get(key);
  if (known !== undefined) return known;
  const { stdout } = await promisify(execFile)(process.execPath, [cli, ...words, '--help']);
  helpOf.set(key, stdout);
  return stdout;
}

/** A `telemetry` command line the test does not run: its subcommand, each flag and each setting exist. */
async function checkTelemetryCommand(text: string, where: string): Promise<void> {
  const line = text.replace(/\\\n/g, ' ').replace(/#.*$/, '');
  const settings = [...line.matchAll(/\b(TELEMETRY_[A-Z_]+)=/g)].map((match) => match[1] ?? '');
  const call = /telemetry ((?:[a-z][a-z-]* )*)(.*)$/.exec(line.replace(/\)?\s*&?\s*$/, ''));
  expect(call, `${where}: a telemetry command in ${text}`).not.toBeNull();
  const words = (call?.[1] ?? '').trim().split(' ');
  const usage = await help(words);
  for (const flag of (call?.[2] ?? '').match(/--[a-z-]+/g) ?? []) {
    expect(usage, `${where}: telemetry ${words.join(' ')} has ${flag}`).toContain(`${flag} `);
  }
  for (const fault of /--faults (\S+)/.exec(line)?.[1]?.split(',') ?? []) {
    expect(usage, `${where}: the fault kind ${fault}`).toContain(fault.split('=')[0]);
  }
  const serveHelp = await help(['serve']);
  for (const setting of settings) expect(serveHelp, `${where}: the setting ${setting}`).toContain(setting);
}

async function checkCommand(command: ReadmeCommand, where: string): Promise<void> {
  const text = command.text;
  if (text.startsWith('./scripts/')) {
    const script = text.split(' ')[0] ?? '';
    expect(statSync(join(root, script)).mode & 0o111, `${where}: ${script} is executable`).not.toBe(0);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.test, `${where}: npm test`).toBeDefined();
    return;
  }
  if (text.startsWith('docker compose ')) {
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { profiles?: string[] }>;
    };
    const profile = /--profile (\S+)/.exec(text)?.[1];
    if (profile !== undefined) {
      const withProfile = Object.values(compose.services).filter((s) => s.profiles?.includes(profile));
      expect(withProfile.length, `${where}: services in the profile ${profile}`).toBeGreaterThan(0);
    }
    const run = /docker compose run ((?:--[a-z-]+(?: (?!-)\S+)? )*)?([a-z0-9-]+)\s+\\?\s*([\s\S]*)$/.exec(text);
    if (run !== null) {
      expect(Object.keys(compose.services), `${where}: the service`).toContain(run[2]);
      if (/--entrypoint telemetry/.test(text)) {
        expect(readFileSync(join(root, 'Dockerfile'), 'utf8')).toContain('/usr/local/bin/telemetry');
        await checkTelemetryCommand(`telemetry ${run[3] ?? ''}`, where);
      }
    }
    return;
  }
  for (const part of text.split(/\n(?![ ])/)) {
    if (/\btelemetry\b/.test(part)) await checkTelemetryCommand(part.replace(/^.*?\$\(/, ''), where);
  }
}

let dir: string;
let walk: Walkthrough | undefined;

beforeAll(async () => {
  expect(existsSync(cli), 'dist/ is built (npm run build)').toBe(true);
  dir = await mkdtemp(join(tmpdir(), 'readme-walkthrough-'));
  await copyFile(join(root, 'package.json'), join(dir, 'package.json'));
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'));
  await symlink(join(root, 'dist'), join(dir, 'dist'));
  const bin = join(dir, '.bin');
  await mkdir(bin);
  await writeFile(
    join(bin, 'npx'),
    [
      '#!/bin/sh',
      `case "$1" in`,
      `  telemetry) shift; exec node ${join(dir, 'dist', 'cli', 'bin.js')} "$@" ;;`,
      `  mqtt) shift; exec ${join(root, 'node_modules', '.bin', 'mqtt')} "$@" ;;`,
      `  *) echo "npx $1: not one of the README's commands" >&2; exit 127 ;;`,
      'esac',
      '',
    ].join('\n'),
  );
  await chmod(join(bin, 'npx'), 0o755);
});

afterAll(async () => {
  try {
    await walk?.stopAll();
  } finally {
    killGroups();
    await rm(dir, { recursive: true, force: true });
  }
});

describe('the README, followed as written', () => {
  const blocks = shellBlocks(readme);

  it('shows no machine paths in any sample', () => {
    for (const block of fencedBlocks(readme)) {
      expect(block).not.toMatch(/\/(work|home|root)\/|\/tmp\/\S/);
    }
  });

  it('runs top to bottom, twice in a row in the same checkout, with the output it shows', async () => {
    const http = await freePort();
    const mqtt = await freePort();
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('TELEMETRY_')),
    );
    const env = {
      ...inherited,
      PATH: `${join(dir, '.bin')}:${process.env.PATH ?? ''}`,
      TELEMETRY_HTTP_PORT: String(http),
      TELEMETRY_MQTT_PORT: String(mqtt),
    };
    for (const _pass of [1, 2]) {
      // A reader coming back opens a new terminal: the folder stays, the shell's variables do not.
      await rm(join(dir, '.shell-state'), { force: true });
      walk = new Walkthrough(dir, env, http, mqtt);
      for (const block of blocks) {
        if (isLoadRun(block)) continue;
        const run = { ...block, commands: block.commands.filter((c) => !isChecked(c)) };
        if (run.commands.length > 0) await walk.run(run);
      }
      await walk.stopAll();
    }
  }, 1_800_000);

  it('names only commands, flags, settings and services that exist where it does not run them', async () => {
    for (const block of blocks) {
      const where = `README.md:${block.line} (${block.section})`;
      const commands = isLoadRun(block) ? block.commands : block.commands.filter(isChecked);
      for (const command of commands) await checkCommand(command, where);
    }
  }, 120_000);
});
