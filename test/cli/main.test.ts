import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { keysCommand } from '../../cli/keys/keys-command.js';
import { COMMAND_SUMMARIES, runCli } from '../../cli/main.js';
import { queryCommand } from '../../cli/query/query-command.js';
import { serveCommand } from '../../cli/serve/serve-command.js';
import { simulateCommand } from '../../cli/simulate/simulate-command.js';
import { type CliResult, capturingIo } from '../support/capturing-io.js';

async function telemetry(argv: readonly string[], columns?: number): Promise<CliResult> {
  const { io, result } = capturingIo({ cwd: '/' });
  return result(await runCli(argv, columns === undefined ? io : { ...io, columns }));
}

const widest = (text: string) => Math.max(...text.split('\n').map((line) => line.length));

describe('telemetry', () => {
  it('prints the version from package.json for --version and -V', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      expect(await telemetry([flag])).toEqual({ code: 0, stdout: `telemetry ${version}\n`, stderr: '' });
    }
  });

  it('lists each command with the summary the command gives itself, without loading it', async () => {
    for (const command of [serveCommand, keysCommand, simulateCommand, queryCommand]) {
      expect(COMMAND_SUMMARIES.get(command.name)).toBe(command.summary);
    }
    const { stdout } = await telemetry(['--help']);
    for (const [name, summary] of COMMAND_SUMMARIES) expect(stdout).toContain(`  ${name.padEnd(8)}  ${summary}`);
  });

  it.each([
    [['serv'], "telemetry: unknown command 'serv'; did you mean 'serve'?"],
    [['kesy', 'generate'], "telemetry: unknown command 'kesy'; did you mean 'keys'?"],
    [['keys', 'genrate'], "telemetry keys: unknown subcommand 'genrate'; did you mean 'generate'?"],
    [['keys', 'registy', 'add'], "telemetry keys: unknown subcommand 'registy'; did you mean 'registry'?"],
    [['keys', 'registry', 'lsit'], "telemetry keys: unknown subcommand 'registry lsit'; did you mean 'registry list'?"],
    [['simulate', 'rnu'], "telemetry simulate: unknown subcommand 'rnu'; did you mean 'run'?"],
    [['query', 'reading'], "telemetry query: unknown subcommand 'reading'; did you mean 'readings'?"],
  ])('guesses what %j meant, with exit code 2', async (argv, line) => {
    const { code, stdout, stderr } = await telemetry(argv);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr.split('\n')[0]).toBe(line);
  });

  it('lists the commands, with no guess, for a word nothing is close to', async () => {
    const { code, stderr } = await telemetry(['frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown command 'frobnicate'\n");
    expect(stderr).not.toContain('did you mean');
    expect(stderr).toContain('Commands:');
  });

  it.each([
    ['registry', 'Manage a JWKS registry of device public keys', ['add', 'remove', 'list']],
    ['issuer', 'Create the issuer keys that sign device credentials', ['create']],
  ])('answers keys %s --help with its own summary and subcommands, not the parent’s', async (group, summary, names) => {
    const { code, stdout } = await telemetry(['keys', group, '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: telemetry keys ${group} <subcommand>`);
    expect(stdout).toContain(summary);
    expect(stdout).not.toContain(keysCommand.summary);
    for (const name of names) expect(stdout).toMatch(new RegExp(`^ {2}${name} `, 'm'));
  });

  it('wraps serve --help to 80 columns without a terminal, and to the terminal’s width on one', async () => {
    const plain = await telemetry(['serve', '--help']);
    expect(plain.code).toBe(0);
    expect(widest(plain.stdout)).toBeLessThanOrEqual(80);
    expect(plain.stdout).toMatch(/^ {2}--http-port, TELEMETRY_HTTP_PORT$/m);
    const wide = await telemetry(['serve', '--help'], 160);
    expect(widest(wide.stdout)).toBeLessThanOrEqual(160);
    expect(widest(wide.stdout)).toBeGreaterThan(80);
    expect(wide.stdout).toMatch(/^ {2}--http-port +TELEMETRY_HTTP_PORT +HTTP port/m);
    // Every setting is listed however wide the terminal.
    const settings = (text: string) => text.match(/TELEMETRY_[A-Z_]+/g)?.length;
    expect(settings(wide.stdout)).toBe(settings(plain.stdout));
  });
});
