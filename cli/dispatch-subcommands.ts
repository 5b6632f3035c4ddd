import { closestName } from './closest-name.js';
import { type Command, CommandFailure, type CommandIo, UsageError } from './command.js';

/** One subcommand as the dispatcher sees it: found by name, listed, helped, and run. */
export interface SubcommandEntry {
  /** `generate`, or `registry add` for a subcommand of the group `registry`. */
  readonly name: string;
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: () => string;
  /**
   * Runs on the words after the subcommand's name and resolves to the exit
   * code; throws UsageError (exit code 2) or a CommandFailure (exit code 1).
   */
  readonly run: (argv: readonly string[], io: CommandIo) => Promise<number>;
}

/** A `telemetry` command made of subcommands: `keys`, `simulate`, `query`. */
export interface SubcommandTable {
  /** The command's name, the word after `telemetry`. */
  readonly command: string;
  readonly summary: string;
  /** The subcommand in the overview's usage line; `<subcommand>` when absent. */
  readonly placeholder?: string;
  /** Lines printed right under the summary in the overview. */
  readonly notes?: readonly string[];
  /** Each group's own summary (`registry`: what the `registry …` subcommands do), for the group's overview. */
  readonly groups?: Readonly<Record<string, string>>;
  /** In the order the overview lists them. */
  readonly subcommands: readonly SubcommandEntry[];
}

const isHelp = (word: string | undefined) => word === '--help' || word === '-h' || word === 'help';

/** The overview of the subcommands whose names start with `group` (all of them when it is empty). */
export function overview(table: SubcommandTable, group = ''): string {
  const listed = table.subcommands
    .filter((s) => group === '' || s.name.startsWith(`${group} `))
    .map((s) => ({ name: group === '' ? s.name : s.name.slice(group.length + 1), summary: s.summary }));
  const width = Math.max(...listed.map((s) => s.name.length));
  const prefix = group === '' ? table.command : `${table.command} ${group}`;
  const placeholder = group === '' ? (table.placeholder ?? '<subcommand>') : '<subcommand>';
  return [
    `Usage: telemetry ${prefix} ${placeholder} [options]`,
    '',
    ...(group === '' ? [`${table.summary}.`, ...(table.notes ?? [])] : [`${table.groups?.[group] ?? table.summary}.`]),
    '',
    'Subcommands:',
    ...listed.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`),
    '',
    `Run 'telemetry ${prefix} <subcommand> --help' for its options and an example.`,
    '',
  ].join('\n');
}

/** The subcommand `argv` starts with (one or two words) and the words after its name. */
function findSubcommand(table: SubcommandTable, argv: readonly string[]) {
  for (const subcommand of table.subcommands) {
    const words = subcommand.name.split(' ');
    if (words.every((word, i) => argv[i] === word)) return { subcommand, rest: argv.slice(words.length) };
  }
  return undefined;
}

/** The group (`registry`, `issuer`) `word` names, or undefined. */
function findGroup(table: SubcommandTable, word: string | undefined): string | undefined {
  return table.subcommands.some((s) => s.name.startsWith(`${word} `)) ? word : undefined;
}

/**
 * What to print for an unknown subcommand (`word`), or an unknown one in a
 * group (`group word`): a guess when one is a typo away, else the overview.
 */
function unknownSubcommand(table: SubcommandTable, first: string, second: string | undefined): string {
  const group = second === undefined ? '' : first;
  const word = second ?? first;
  const names = table.subcommands
    .filter((s) => group === '' || s.name.startsWith(`${group} `))
    .map((s) => (group === '' ? s.name : s.name.slice(group.length + 1)).split(' ')[0] ?? '');
  const guess = closestName(word, [...new Set(names)]);
  const prefix = group === '' ? table.command : `${table.command} ${group}`;
  const unknown = `telemetry ${table.command}: unknown subcommand '${group === '' ? word : `${group} ${word}`}'`;
  if (guess === undefined) return `${unknown}\n\n${overview(table, group)}`;
  return `${unknown}; did you mean '${group === '' ? guess : `${group} ${guess}`}'?\nRun 'telemetry ${prefix} --help' for the list.\n`;
}

/**
 * Runs the subcommand `argv` names, or prints the overview: `--help`, `-h` or
 * `help` first prints it (or, followed by a subcommand's name, that
 * subcommand's help); a group's name alone prints the group's overview. Bad
 * usage prints why and a hint to `--help` on stderr. Resolves to the exit code.
 */
export async function dispatchSubcommands(
  table: SubcommandTable,
  argv: readonly string[],
  io: CommandIo,
): Promise<number> {
  const [first, second] = argv;
  if (first === undefined) {
    io.stderr(overview(table));
    return 2;
  }
  if (isHelp(first)) {
    // `keys help generate` means `keys generate --help`.
    const words = argv.filter((word) => !isHelp(word));
    if (words.length > 0) return dispatchSubcommands(table, [...words, '--help'], io);
    io.stdout(overview(table));
    return 0;
  }
  const found = findSubcommand(table, argv);
  if (found === undefined) {
    const group = findGroup(table, first);
    if (group !== undefined && (second === undefined || isHelp(second))) {
      (second === undefined ? io.stderr : io.stdout)(overview(table, group));
      return second === undefined ? 2 : 0;
    }
    io.stderr(unknownSubcommand(table, first, group === undefined ? undefined : second));
    return 2;
  }
  return runSubcommand(table.command, found.subcommand, found.rest, io);
}

/** Prints the subcommand's help when asked, or runs it, turning its errors into messages and exit codes. */
async function runSubcommand(
  command: string,
  subcommand: SubcommandEntry,
  rest: readonly string[],
  io: CommandIo,
): Promise<number> {
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(subcommand.help());
    return 0;
  }
  const name = `telemetry ${command} ${subcommand.name}`;
  try {
    return await subcommand.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${name}: ${error.message}\nRun '${name} --help' for usage.\n`);
      return 2;
    }
    if (error instanceof CommandFailure) {
      io.stderr(`${name}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** The `telemetry` command the table describes: its overview is its help, and it dispatches to its subcommands. */
export function subcommandsCommand(table: SubcommandTable): Command {
  return {
    name: table.command,
    summary: table.summary,
    help: () => overview(table),
    run: (argv, io) => dispatchSubcommands(table, argv, io),
  };
}
