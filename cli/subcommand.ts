import type { ParseArgsConfig } from 'node:util';
import { type CommandIo, parseCommandArgs } from './command.js';
import type { SubcommandEntry } from './dispatch-subcommands.js';
import { type OptionValues, SubcommandArgs } from './subcommand-args.js';
import { wrapText } from './wrap-text.js';

/** One option of a subcommand (`telemetry keys generate`): the parser and the help text both read it. */
export interface SubcommandOption {
  readonly name: string;
  /** The value's placeholder in the help (`ID`, `FILE`); absent for a boolean flag. */
  readonly value?: string;
  readonly description: string;
  /** The default, given to the parser as is (so it passes the same checks as a typed value). */
  readonly default?: string;
  /** The default as the help describes it, when it is computed at run time. */
  readonly defaultText?: string;
  readonly required?: boolean;
  /** Whether the option may be given more than once. */
  readonly multiple?: boolean;
}

/**
 * A subcommand described by its options (`telemetry keys generate`, `telemetry
 * simulate run`): its name (one or two words), options, help and action.
 * `Result` is what `run` resolves to: nothing (exit code 0), or the exit code.
 */
export interface Subcommand<Result = void> {
  /** `generate`, or `registry add` for a subcommand of a group. */
  readonly name: string;
  readonly summary: string;
  /** Paragraphs printed under the summary, wrapped; a paragraph starting with two spaces is printed as is. */
  readonly details?: readonly string[];
  /** The arguments part of the usage line, when it is not just the required options. */
  readonly usage?: string;
  readonly options: readonly SubcommandOption[];
  readonly example: string;
  /** Does the work, writing results through `io`; throws UsageError or a CommandFailure. */
  readonly run: (args: SubcommandArgs, io: CommandIo) => Promise<Result>;
}

type ParserOptions = NonNullable<ParseArgsConfig['options']>;

/** Parses `argv` (the words after the subcommand's name) by the subcommand's option list. */
function parseSubcommandArgs(
  subcommand: Pick<Subcommand, 'options'>,
  argv: readonly string[],
  cwd: string,
): SubcommandArgs {
  const options: ParserOptions = {};
  for (const option of subcommand.options) {
    options[option.name] =
      option.value === undefined
        ? { type: 'boolean' }
        : {
            type: 'string',
            ...(option.multiple === true ? { multiple: true } : {}),
            ...(option.default === undefined ? {} : { default: option.default }),
          };
  }
  const { values } = parseCommandArgs(argv, options);
  return new SubcommandArgs(values as OptionValues, cwd);
}

function optionLabel(option: SubcommandOption): string {
  return option.value === undefined ? `--${option.name}` : `--${option.name} ${option.value}`;
}

function defaultLabel(option: SubcommandOption): string {
  if (option.required === true) return 'Required.';
  if (option.default !== undefined) return `Default: ${option.default}.`;
  if (option.defaultText !== undefined) return `Default: ${option.defaultText}.`;
  return option.value === undefined ? 'Default: off.' : 'Default: none.';
}

const HELP_WIDTH = 100;

/** A paragraph wrapped to HELP_WIDTH, or as is when it starts with two spaces. */
function wrap(paragraph: string): string[] {
  return paragraph.startsWith('  ') ? [paragraph] : wrapText(paragraph, HELP_WIDTH);
}

/** The `--help` text of a subcommand of `command`: usage, every option with its default, and an example. */
function subcommandHelp(command: string, subcommand: Omit<Subcommand, 'run'>): string {
  const usage =
    subcommand.usage ??
    subcommand.options
      .filter((option) => option.required === true)
      .map((option) => (option.multiple === true ? `${optionLabel(option)}...` : optionLabel(option)))
      .join(' ');
  const labels = [...subcommand.options.map(optionLabel), '-h, --help'];
  const width = Math.max(...labels.map((label) => label.length));
  const lines = subcommand.options.map(
    (option) =>
      `  ${optionLabel(option).padEnd(width)}  ${option.description}${option.multiple === true ? ' Repeatable.' : ''} ${defaultLabel(option)}`,
  );
  return [
    `Usage: telemetry ${command} ${subcommand.name} ${usage} [options]`.replace(/ +/g, ' '),
    '',
    `${subcommand.summary}.`,
    ...(subcommand.details ?? []).flatMap((paragraph) => ['', ...wrap(paragraph)]),
    '',
    'Options:',
    ...lines,
    `  ${'-h, --help'.padEnd(width)}  Show this help.`,
    '',
    'Example:',
    `  ${subcommand.example}`,
    '',
  ].join('\n');
}

/**
 * The dispatcher's entry for `subcommand` of `command`: its help rendered from
 * its options, the words after its name parsed by them.
 */
export function subcommandEntry<Result>(command: string, subcommand: Subcommand<Result>): SubcommandEntry {
  return {
    name: subcommand.name,
    summary: subcommand.summary,
    help: () => subcommandHelp(command, subcommand),
    run: async (argv, io) => {
      const code = await subcommand.run(parseSubcommandArgs(subcommand, argv, io.cwd), io);
      return typeof code === 'number' ? code : 0;
    },
  };
}
