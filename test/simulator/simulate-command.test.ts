import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { simulateCommand } from '../../cli/simulate/simulate-command.js';
import { provisionFleet, type RunReport, readFleet, type VerificationReport } from '../../simulator/index.js';
import { capturingIo } from '../support/capturing-io.js';
import { auditStore, type FleetNode, startFleetNode } from './fleet-node.js';

let dir: string | undefined;
let fleetNode: FleetNode | undefined;

function io(cwd: string, env: Record<string, string> = {}) {
  const captured = capturingIo({ cwd, env });
  return { io: captured.io, out: captured.stdout, err: captured.stderr };
}

afterEach(async () => {
  await fleetNode?.close();
  fleetNode = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('telemetry simulate', () => {
  it('prints the help of each subcommand', async () => {
    for (const name of ['provision', 'run', 'verify']) {
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

  it.each([
    [['--drop-share', '0.5', '--drop-every', '0'], '--drop-every must be longer than 0'],
    [['--skew-share', '2'], '--skew-share must be a number from 0 to 1'],
    [['--skew', 'soon'], '--skew must be a duration'],
  ])('refuses the network fault options %j with exit code 2', async (extra, message) => {
    const cli = io('/');
    expect(await simulateCommand.run(['run', '--fleet', 'x', '--duration', '1s', ...extra], cli.io)).toBe(2);
    expect(cli.err()).toContain(message);
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

  it('runs devices that go offline with faults injected and --verify, then verify agrees from the report file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    const fleetDir = join(dir, 'fleet');
    await provisionFleet({
      dir: fleetDir,
      devices: 4,
      alg: 'mixed',
      kinds: ['thermo', 'meter'],
      keySource: 'both',
      seed: 'cli-verify',
      credentialTtlSeconds: 86_400,
      now: Date.now(),
    });
    fleetNode = await startFleetNode(fleetDir, await readFleet(fleetDir));
    const run = io(dir);
    const code = await simulateCommand.run(
      ['run', '--fleet', 'fleet', '--transport', 'mqtt', '--mqtt-url', fleetNode.mqttUrl, '--url', fleetNode.httpUrl]
        .concat(['--rate', '5', '--readings-per-message', '2', '--duration', '3s', '--offline-share', '0.5'])
        .concat(['--offline-for', '1s', '--faults', 'bad-signature=1,replay=1,seconds=1,expired-credential=1'])
        .concat(['--verify', '--token', fleetNode.operatorToken, '--report', 'run.json', '--json']),
      run.io,
    );
    expect(run.err()).toContain('verified: 4 devices through the query API');
    expect(code).toBe(0);
    const report = JSON.parse(run.out()) as RunReport;
    expect(report.devices.filter((d) => d.offline.length > 0)).toHaveLength(2);
    expect(report.faults?.['expired-credential']?.rejectedAsExpected).toBe(1);
    expect(report.faults?.replay?.acceptedAsExpected).toBe(1);
    expect(report.verification?.ok).toBe(true);
    expect(report.verification?.acknowledged.storedOnce).toBe(report.verification?.acknowledged.expected);

    const verify = io(dir, { TELEMETRY_TOKEN: fleetNode.operatorToken });
    const verifyArgs = ['verify', '--report', 'run.json', '--url', fleetNode.httpUrl, '--json'];
    expect(await simulateCommand.run(verifyArgs, verify.io)).toBe(0);
    const verification = JSON.parse(verify.out()) as VerificationReport;
    expect(verification.acknowledged).toEqual(report.verification?.acknowledged);
    expect(verification.faultProbesStored).toBe(0);
  });

  it('verify exits 1 when an acknowledged reading is missing from the store', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    const fleetDir = join(dir, 'fleet');
    await provisionFleet({
      dir: fleetDir,
      devices: 2,
      alg: 'ES256',
      kinds: ['thermo'],
      keySource: 'registry',
      seed: 'cli-missing',
      credentialTtlSeconds: 86_400,
      now: Date.now(),
    });
    fleetNode = await startFleetNode(fleetDir, await readFleet(fleetDir));
    const run = io(dir);
    const runArgs = ['run', '--fleet', 'fleet', '--url', fleetNode.httpUrl, '--messages', '3', '--rate', '5'];
    expect(await simulateCommand.run(runArgs.concat(['--report', 'run.json']), run.io)).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunReport;
    // Claim one more reading was acknowledged than was ever sampled: the audit must find it missing.
    const device = report.devices[0];
    if (device === undefined) throw new Error('no device');
    const tampered = {
      ...report,
      devices: [
        { ...device, sampled: device.sampled + 1, acknowledged: [[0, device.sampled]] },
        ...report.devices.slice(1),
      ],
    };
    writeFileSync(join(dir, 'tampered.json'), JSON.stringify(tampered));
    const verify = io(dir);
    const code = await simulateCommand.run(
      ['verify', '--report', 'tampered.json', '--url', fleetNode.httpUrl, '--token', fleetNode.operatorToken],
      verify.io,
    );
    expect(verify.out()).toContain('VERIFY FAILED');
    expect(verify.out()).toMatch(/acknowledged, not stored/);
    expect(code).toBe(1);
  });
});
