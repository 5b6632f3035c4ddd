import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunReport, readFleet } from '../../simulator/index.js';
import type { CommandIo } from '../../src/cli/command.js';
import { simulateCommand } from '../../src/cli/simulate-command.js';
import { auditStore, type FleetNode, startFleetNode } from './fleet-node.js';

let dir: string | undefined;
let fleetNode: FleetNode | undefined;

function io(cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const value: CommandIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: {}, cwd };
  return { io: value, out: () => out.join(''), err: () => err.join('') };
}

afterEach(async () => {
  await fleetNode?.close();
  fleetNode = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('telemetry simulate', () => {
  it('prints the help of each subcommand', async () => {
    for (const name of ['provision', 'run']) {
      const cli = io('/');
      expect(await simulateCommand.run([name, '--help'], cli.io)).toBe(0);
      expect(cli.out()).toContain(`Usage: telemetry simulate ${name} `);
    }
  });

  it('refuses bad usage with exit code 2', async () => {
    const cli = io('/');
    expect(await simulateCommand.run(['provision', '--devices', '3', '--out', 'x', '--kinds', 'toaster'], cli.io)).toBe(
      2,
    );
    expect(cli.err()).toContain('unknown kind toaster');
  });

  it('provisions a fleet and runs it against a node, printing a JSON report whose readings are all stored', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    const provision = io(dir);
    const args = [
      'provision',
      '--devices',
      '3',
      '--out',
      'fleet',
      '--alg',
      'mixed',
      '--seed',
      's',
      '--key-source',
      'both',
    ];
    expect(await simulateCommand.run(args, provision.io)).toBe(0);
    expect(provision.out()).toContain('TELEMETRY_CREDENTIAL_ISSUERS=');
    const fleetDir = join(dir, 'fleet');
    fleetNode = await startFleetNode(fleetDir, await readFleet(fleetDir));
    const run = io(dir);
    const code = await simulateCommand.run(
      ['run', '--fleet', 'fleet', '--url', fleetNode.httpUrl, '--rate', '4', '--readings-per-message', '2'].concat([
        '--messages',
        '6',
        '--json',
        '--report',
        'report.json',
      ]),
      run.io,
    );
    expect(run.err()).toContain('ok: 3 devices over http');
    expect(code).toBe(0);
    const report = JSON.parse(run.out()) as RunReport;
    expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))).toEqual(report);
    expect(report.totals.readingsAcknowledged).toBe(3 * 6 * 2);
    expect((await auditStore(fleetNode.store, report)).problems).toEqual([]);
  });
});
