import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryCommand } from '../../cli/query/query-command.js';
import type { IngestNode } from '../../ingest/build-ingest.js';
import { openQueryWorld, type QueryWorld } from '../query/query-fixture.js';
import { type CliResult, capturingIo } from '../support/capturing-io.js';

const MINUTE = 60_000;
/** Whole minutes, so the readings fall in predictable windows; a little in the past, so `--since` covers them. */
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
let world: QueryWorld;
let node: IngestNode;
let url: string;
let token: string;

async function cli(argv: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const { io, result } = capturingIo({
    cwd: process.cwd(),
    env: { TELEMETRY_URL: url, TELEMETRY_TOKEN: token, ...env },
  });
  return result(await queryCommand.run(argv, io));
}

const iso = (ts: number) => new Date(ts).toISOString();
const RANGE = ['--from', String(T0), '--to', String(T0 + 60 * MINUTE)];

beforeAll(async () => {
  world = await openQueryWorld();
  // A node with the real clock, listening on a free loopback port: the CLI talks HTTP to it.
  node = await world.buildNode({ now: 'real' });
  await node.app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(node.app.server.address() as AddressInfo).port}`;
  token = await world.operators.token('read', { now: Date.now() });
  await world.store.write([
    { device: 'boiler-1', ts: T0, values: { temperature: 21.5, pressure: 1.02 } },
    { device: 'boiler-1', ts: T0 + MINUTE, values: { temperature: 22 } },
    { device: 'boiler-1', ts: T0 + 7 * MINUTE, values: { temperature: 19.25 } },
    { device: 'boiler-10', ts: T0 + 2 * MINUTE, values: { temperature: -4 } },
    { device: 'pump-1', ts: T0 + 3 * MINUTE, values: { rpm: 1200 } },
  ]);
});

afterAll(async () => {
  await world?.close();
});

describe('telemetry query readings', () => {
  it('prints an aligned table by default, numbers to the right', async () => {
    const result = await cli(['readings', '--device', 'boiler-1', '--device', 'boiler-10', ...RANGE]);
    expect(result).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        'device     metric       time                      value',
        `boiler-1   pressure     ${iso(T0)}   1.02`,
        `boiler-1   temperature  ${iso(T0)}   21.5`,
        `boiler-1   temperature  ${iso(T0 + MINUTE)}     22`,
        `boiler-1   temperature  ${iso(T0 + 7 * MINUTE)}  19.25`,
        `boiler-10  temperature  ${iso(T0 + 2 * MINUTE)}     -4`,
        '',
      ].join('\n'),
    });
  });

  it('prints CSV with the columns of the API', async () => {
    const result = await cli([
      'readings',
      '--device',
      'boiler-1',
      '--metric',
      'temperature',
      ...RANGE,
      '--format',
      'csv',
    ]);
    expect(result.stdout).toBe(
      `device,metric,ts,value\r\nboiler-1,temperature,${T0},21.5\r\nboiler-1,temperature,${T0 + MINUTE},22\r\nboiler-1,temperature,${T0 + 7 * MINUTE},19.25\r\n`,
    );
  });

  it('prints the JSON answer', async () => {
    const result = await cli(['readings', '--device', 'pump-1', ...RANGE, '--format', 'json']);
    expect(JSON.parse(result.stdout)).toEqual({
      from: T0,
      to: T0 + 60 * MINUTE,
      items: [{ device: 'pump-1', metric: 'rpm', ts: T0 + 3 * MINUTE, value: 1200 }],
    });
  });

  it('follows the cursors to the end with --all, and says more follow without it', async () => {
    const args = ['readings', '--device', 'boiler-1', '--device', 'boiler-10', ...RANGE, '--limit', '2'];
    const all = await cli([...args, '--all', '--format', 'csv']);
    expect(all.stdout.split('\r\n').filter((line) => line !== '')).toHaveLength(6);
    expect(all.stdout).toBe((await cli(args.slice(0, -2).concat('--format', 'csv'))).stdout);
    const first = await cli([...args, '--format', 'csv']);
    expect(first.stdout.split('\r\n').filter((line) => line !== '')).toHaveLength(3);
    expect(first.stderr).toMatch(/^more items follow: add --all, or --cursor [A-Za-z0-9_-]+\n$/);
    const json = JSON.parse((await cli([...args, '--all', '--format', 'json'])).stdout);
    expect(json.items).toHaveLength(5);
    expect(json.nextCursor).toBeUndefined();
  });

  it('takes relative times: --since, and --from before now', async () => {
    const since = await cli(['readings', '--device', 'pump-1', '--since', '3h', '--format', 'csv']);
    expect(since.stdout).toBe(`device,metric,ts,value\r\npump-1,rpm,${T0 + 3 * MINUTE},1200\r\n`);
    const from = await cli(['readings', '--device', 'pump-1', '--from', '-3h', '--format', 'csv']);
    expect(from.stdout).toBe(since.stdout);
    const rfc = await cli(['readings', '--device', 'pump-1', '--from', iso(T0), '--to', iso(T0 + MINUTE)]);
    expect(rfc.stdout).toBe('device  metric  time  value\n');
  });
});

describe('telemetry query windows, latest and series', () => {
  it('prints windows with the aggregate as the column title', async () => {
    const result = await cli([
      'windows',
      '--device',
      'boiler-1',
      '--metric',
      'temperature',
      ...RANGE,
      '--window',
      '5m',
      '--aggregate',
      'max',
    ]);
    expect(result.stdout).toBe(
      [
        'device    metric       window start                max',
        `boiler-1  temperature  ${iso(T0)}     22`,
        `boiler-1  temperature  ${iso(T0 + 5 * MINUTE)}  19.25`,
        '',
      ].join('\n'),
    );
  });

  it('prints the latest values filtered on a prefix, and the series', async () => {
    const latest = await cli(['latest', '--prefix', 'boiler-1', '--format', 'csv']);
    expect(latest.stdout).toBe(
      `device,metric,ts,value\r\nboiler-1,pressure,${T0},1.02\r\nboiler-1,temperature,${T0 + 7 * MINUTE},19.25\r\nboiler-10,temperature,${T0 + 2 * MINUTE},-4\r\n`,
    );
    const series = await cli(['series', '--prefix', 'pump']);
    expect(series.stdout).toBe(`device  metric  last seen\npump-1  rpm     ${iso(T0 + 3 * MINUTE)}\n`);
  });
});

describe('telemetry query errors and help', () => {
  it('prints the node error code and exits 1 when the token is refused or out of scope', async () => {
    const refused = await cli(['latest'], { TELEMETRY_TOKEN: 'not-a-token' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('telemetry query latest: 401 ERR_UNAUTHORIZED: the operator token does not verify\n');
    const narrow = await world.operators.token('read:device:pump-1', { now: Date.now() });
    const forbidden = await cli(['readings', '--device', 'boiler-1', '--since', '1h', '--token', narrow]);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toMatch(/403 ERR_FORBIDDEN: .*boiler-1/);
  });

  it('exits 1 when the node cannot be reached', async () => {
    const result = await cli(['series'], { TELEMETRY_URL: 'http://127.0.0.1:1' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^telemetry query series: cannot reach http:\/\/127\.0\.0\.1:1/);
  });

  it.each<[string, string[], RegExp]>([
    ['no device', ['readings', '--since', '1h'], /--device is required/],
    ['no range', ['readings', '--device', 'a'], /--since or --from is required/],
    ['--since with --from', ['readings', '--device', 'a', '--since', '1h', '--from', '-2h'], /cannot go with/],
    ['a bad time', ['readings', '--device', 'a', '--from', 'yesterday'], /--from "yesterday" is not a time/],
    ['no window', ['windows', '--device', 'a', '--since', '1h'], /--window is required/],
    [
      'a bad aggregate',
      ['windows', '--device', 'a', '--since', '1h', '--window', '5m', '--aggregate', 'avg'],
      /--aggregate must be one of/,
    ],
    ['an option of another subcommand', ['series', '--device', 'a'], /--device is not an option of 'query series'/],
    ['a bad format', ['series', '--format', 'xml'], /--format must be one of table, csv, json/],
    ['no token', ['series', '--token', ''], /--token or TELEMETRY_TOKEN is required/],
  ])('exits 2 with a usage message for %s', async (_name, argv, message) => {
    const result = await cli(argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('prints help for the command and for each subcommand', async () => {
    const overview = await cli(['--help']);
    expect(overview.code).toBe(0);
    expect(overview.stdout).toMatch(/readings +Readings of devices/);
    for (const name of ['readings', 'windows', 'latest', 'series']) {
      const help = await cli([name, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: telemetry query ${name} [options]`);
      expect(help.stdout).toContain('--token TOKEN');
    }
    expect((await cli(['windows', '--help'])).stdout).toContain('--aggregate AGG');
    expect((await cli(['latest', '--help'])).stdout).not.toContain('--window');
  });
});
