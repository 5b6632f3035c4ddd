import { type Command, type CommandIo, UsageError } from '../command.js';
import { parseSubcommandArgs, type Subcommand, subcommandHelp } from '../subcommand.js';
import { generateSubcommand } from './generate.js';
import { issuerCreateSubcommand } from './issuer.js';
import { KeysFailure } from './keys-failure.js';
import { registryAddSubcommand, registryListSubcommand, registryRemoveSubcommand } from './registry.js';
import { connectTokenSubcommand, signSubcommand } from './sign.js';
import { credentialSubcommand, operatorTokenSubcommand } from './tokens.js';

const SUBCOMMANDS: readonly Subcommand[] = [
  generateSubcommand,
  registryAddSubcommand,
  registryRemoveSubcommand,
  registryListSubcommand,
  issuerCreateSubcommand,
  credentialSubcommand,
  operatorTokenSubcommand,
  signSubcommand,
  connectTokenSubcommand,
];

const SUMMARY = 'Generate device and issuer keys, manage a key registry, issue credentials and tokens';

const isHelp = (word: string | undefined) => word === '--help' || word === '-h' || word === 'help';

/** The overview of the subcommands whose names start with `group` (all of them when it is empty). */
function overview(group: string): string {
  const listed = SUBCOMMANDS.filter((s) => group === '' || s.name.startsWith(`${group} `)).map((s) => ({
    name: group === '' ? s.name : s.name.slice(group.length + 1),
    summary: s.summary,
  }));
  const width = Math.max(...listed.map((s) => s.name.length));
  const prefix = group === '' ? 'keys' : `keys ${group}`;
  return [
    `Usage: telemetry ${prefix} <subcommand> [options]`,
    '',
    `${SUMMARY}.`,
    '',
    'Subcommands:',
    ...listed.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`),
    '',
    `Run 'telemetry ${prefix} <subcommand> --help' for its options and an example.`,
    '',
  ].join('\n');
}

/** The subcommand `argv` starts with (one or two words) and the words after its name. */
function findSubcommand(argv: readonly string[]): { subcommand: Subcommand; rest: readonly string[] } | undefined {
  for (const subcommand of SUBCOMMANDS) {
    const words = subcommand.name.split(' ');
    if (words.every((word, i) => argv[i] === word)) return { subcommand, rest: argv.slice(words.length) };
  }
  return undefined;
}

/** The group (`registry`, `issuer`) `word` names, or undefined. */
function findGroup(word: string | undefined): string | undefined {
  return SUBCOMMANDS.some((s) => s.name.startsWith(`${word} `)) ? word : undefined;
}

async function run(argv: readonly string[], io: CommandIo): Promise<number> {
  const [first, second] = argv;
  if (first === undefined) {
    io.stderr(overview(''));
    return 2;
  }
  if (isHelp(first)) {
    // `keys help generate` means `keys generate --help`, which main.ts (as of now) answers with the overview.
    const words = argv.filter((word) => !isHelp(word));
    if (words.length > 0) return run([...words, '--help'], io);
    io.stdout(overview(''));
    return 0;
  }
  const found = findSubcommand(argv);
  if (found === undefined) {
    const group = findGroup(first);
    if (group !== undefined && (second === undefined || isHelp(second))) {
      (second === undefined ? io.stderr : io.stdout)(overview(group));
      return second === undefined ? 2 : 0;
    }
    const unknown = group === undefined ? first : `${first} ${second}`;
    io.stderr(`telemetry keys: unknown subcommand '${unknown}'\n\n${overview(group ?? '')}`);
    return 2;
  }
  const { subcommand, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(subcommandHelp('keys', subcommand));
    return 0;
  }
  try {
    await subcommand.run(parseSubcommandArgs(subcommand, rest, io.cwd), io);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(
        `telemetry keys ${subcommand.name}: ${error.message}\n` +
          `Run 'telemetry keys ${subcommand.name} --help' for usage.\n`,
      );
      return 2;
    }
    if (error instanceof KeysFailure) {
      io.stderr(`telemetry keys ${subcommand.name}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/**
 * `telemetry keys`: device and issuer keys, the device key registry, device
 * credentials, operator tokens, and signed messages and connection tokens for
 * trying a node by hand.
 *
 * @example
 * await runCli(['keys', 'generate', '--device', 'boiler-7', '--registry', 'registry.json'], io);
 */
export const keysCommand: Command = {
  name: 'keys',
  summary: SUMMARY,
  help: overview(''),
  run,
};
