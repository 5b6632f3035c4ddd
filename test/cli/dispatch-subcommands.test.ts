import { describe, expect, it } from 'vitest';
import { CommandFailure, UsageError } from '../../cli/command.js';
import { dispatchSubcommands, overview, type SubcommandTable } from '../../cli/dispatch-subcommands.js';
import { simulateCommand } from '../../cli/simulate/simulate-command.js';
import { type CliResult, capturingIo } from '../support/capturing-io.js';

/** A command `tool` with a plain subcommand and a group `box` of two, each answering what it was given. */
const TABLE: SubcommandTable = {
  command: 'tool',
  summary: 'A tool for tests',
  subcommands: [
    {
      name: 'echo',
      summary: 'Print the words',
      help: () => 'echo help\n',
      run: async (argv, io) => {
        if (argv.includes('--bad')) throw new UsageError('--bad is bad');
        if (argv.includes('--fail')) throw new CommandFailure('it failed');
        io.stdout(`${argv.join(' ')}\n`);
        return argv.length;
      },
    },
    { name: 'box open', summary: 'Open the box', help: () => 'box open help\n', run: async () => 0 },
    { name: 'box shut', summary: 'Shut the box', help: () => 'box shut help\n', run: async () => 0 },
  ],
};

async function dispatch(...argv: string[]): Promise<CliResult> {
  const { io, result } = capturingIo({ cwd: '/' });
  return result(await dispatchSubcommands(TABLE, argv, io));
}

describe('dispatchSubcommands', () => {
  it('runs the subcommand named, with the words after its name, and returns its exit code', async () => {
    expect(await dispatch('echo', 'a', 'b')).toEqual({ code: 2, stdout: 'a b\n', stderr: '' });
  });

  it('prints the overview on stdout for --help, -h and help, and on stderr with exit code 2 for nothing', async () => {
    const text = overview(TABLE);
    expect(text).toBe(
      [
        'Usage: telemetry tool <subcommand> [options]',
        '',
        'A tool for tests.',
        '',
        'Subcommands:',
        '  echo      Print the words',
        '  box open  Open the box',
        '  box shut  Shut the box',
        '',
        "Run 'telemetry tool <subcommand> --help' for its options and an example.",
        '',
      ].join('\n'),
    );
    for (const word of ['--help', '-h', 'help'])
      expect(await dispatch(word)).toEqual({ code: 0, stdout: text, stderr: '' });
    expect(await dispatch()).toEqual({ code: 2, stdout: '', stderr: text });
  });

  it("prints a subcommand's help for --help or -h after it, or help before it", async () => {
    for (const argv of [
      ['echo', '--help'],
      ['echo', 'x', '-h'],
      ['help', 'echo'],
    ]) {
      expect(await dispatch(...argv)).toEqual({ code: 0, stdout: 'echo help\n', stderr: '' });
    }
    expect(await dispatch('help', 'box', 'shut')).toEqual({ code: 0, stdout: 'box shut help\n', stderr: '' });
  });

  it("prints a group's overview for its name (stderr, exit code 2) or its name and --help", async () => {
    const text = overview(TABLE, 'box');
    expect(text).toContain('Usage: telemetry tool box <subcommand> [options]');
    expect(text).toMatch(/^ {2}open {2}Open the box$/m);
    expect(text).not.toContain('echo');
    expect(await dispatch('box')).toEqual({ code: 2, stdout: '', stderr: text });
    expect(await dispatch('box', '--help')).toEqual({ code: 0, stdout: text, stderr: '' });
  });

  it('names an unknown subcommand, or an unknown one in a group, with exit code 2', async () => {
    expect(await dispatch('nope')).toEqual({
      code: 2,
      stdout: '',
      stderr: `telemetry tool: unknown subcommand 'nope'\n\n${overview(TABLE)}`,
    });
    expect((await dispatch('box', 'kick')).stderr).toBe(
      `telemetry tool: unknown subcommand 'box kick'\n\n${overview(TABLE, 'box')}`,
    );
  });

  it('turns a UsageError into exit code 2 with a hint to --help, and a CommandFailure into exit code 1', async () => {
    expect(await dispatch('echo', '--bad')).toEqual({
      code: 2,
      stdout: '',
      stderr: "telemetry tool echo: --bad is bad\nRun 'telemetry tool echo --help' for usage.\n",
    });
    expect(await dispatch('echo', '--fail')).toEqual({
      code: 1,
      stdout: '',
      stderr: 'telemetry tool echo: it failed\n',
    });
  });

  it('answers simulate help run with the help of simulate run, as keys help generate always has', async () => {
    const { io, result } = capturingIo({ cwd: '/' });
    const { code, stdout } = result(await simulateCommand.run(['help', 'run'], io));
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: telemetry simulate run --fleet DIR ');
  });
});
