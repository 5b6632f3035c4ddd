import { ConfigError } from '../src/errors.js';
import { bridgeCommand } from './bridge/bridge-command.js';
import { type Command, type CommandIo, UsageError } from './command.js';
import { keysCommand } from './keys/keys-command.js';
import { queryCommand } from './query/query-command.js';
import { serveCommand } from './serve/serve-command.js';
import { simulateCommand } from './simulate/simulate-command.js';

const COMMANDS: readonly Command[] = [serveCommand, keysCommand, simulateCommand, queryCommand, bridgeCommand];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: telemetry <command> [options]',
    '',
    'Signed IoT telemetry over MQTT and HTTP, into a time-series store.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'telemetry <command> --help' for a command's options.",
    '',
  ].join('\n');
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(mainHelp());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr(`telemetry: unknown command '${name}'\n\n${mainHelp()}`);
    return 2;
  }
  // `telemetry keys generate --help` is the subcommand's to answer; `telemetry serve --help` is ours.
  const [first] = rest;
  if ((first === undefined || first.startsWith('-')) && (rest.includes('--help') || rest.includes('-h'))) {
    io.stdout(command.help);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`telemetry ${name}: ${error.message}\nRun 'telemetry ${name} --help' for usage.\n`);
      return 2;
    }
    if (error instanceof ConfigError) {
      io.stderr(`telemetry ${name}: ${error.message}\n`);
      return 78; // EX_CONFIG (sysexits.h)
    }
    throw error;
  }
}
