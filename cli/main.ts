import { ConfigError } from '../src/errors.js';
import { closestName } from './closest-name.js';
import { type Command, type CommandIo, UsageError } from './command.js';
import { packageVersion } from './package-version.js';

/** A command as the top level lists it: loaded only when it runs, so `--help` and `keys` start at once. */
interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<Command>;
}

// Each command imports what it uses when it is run: serve pulls in fastify, aedes and DuckDB, simulate
// mqtt; `telemetry --help`, `keys` and `query` load none of them.
const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'serve',
    summary: 'Run an ingest node (HTTP, MQTT) writing to the configured store',
    load: async () => (await import('./serve/serve-command.js')).serveCommand,
  },
  {
    name: 'keys',
    summary: 'Generate device and issuer keys, manage a key registry, issue credentials and tokens',
    load: async () => (await import('./keys/keys-command.js')).keysCommand,
  },
  {
    name: 'simulate',
    summary: 'Simulate fleets of devices that sign and send realistic readings, and report what was stored',
    load: async () => (await import('./simulate/simulate-command.js')).simulateCommand,
  },
  {
    name: 'query',
    summary: 'Query stored telemetry through a node (readings, windows, latest, series)',
    load: async () => (await import('./query/query-command.js')).queryCommand,
  },
  {
    name: 'bridge',
    summary: 'Sign and forward readings of devices that cannot sign (MQTT, HTTP, line protocol)',
    load: async () => (await import('./bridge/bridge-command.js')).bridgeCommand,
  },
];

/** The names and summaries `telemetry --help` lists, for tests that hold them to each command's own. */
export const COMMAND_SUMMARIES: ReadonlyMap<string, string> = new Map(COMMANDS.map((c) => [c.name, c.summary]));

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
    "Run 'telemetry <command> --help' for a command's options, 'telemetry --version' for the version.",
    '',
  ].join('\n');
}

/** What to print for a command name nobody knows: a guess when one is close, else the list. */
function unknownCommand(name: string): string {
  const guess = closestName(
    name,
    COMMANDS.map((c) => c.name),
  );
  if (guess === undefined) return `telemetry: unknown command '${name}'\n\n${mainHelp()}`;
  return `telemetry: unknown command '${name}'; did you mean '${guess}'?\nRun 'telemetry --help' for the list of commands.\n`;
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout(`telemetry ${await packageVersion()}\n`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (entry === undefined) {
    io.stderr(unknownCommand(name));
    return 2;
  }
  const command = await entry.load();
  // `telemetry keys generate --help` is the subcommand's to answer; `telemetry serve --help` is ours.
  const [first] = rest;
  if ((first === undefined || first.startsWith('-')) && (rest.includes('--help') || rest.includes('-h'))) {
    io.stdout(command.help(io));
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
