import { type Command, type CommandIo, UsageError } from '../command.js';
import { fetchPages, type QueryPage } from './fetch-pages.js';
import { QUERY_ENDPOINTS, type QueryEndpoint } from './query-endpoints.js';
import { QueryFailure } from './query-failure.js';
import { parseQueryPlan, QUERY_OPTIONS } from './query-plan.js';
import { renderPages } from './render-pages.js';

const SUMMARY = 'Query stored telemetry through a node (readings, windows, latest, series)';

const isHelp = (word: string | undefined) => word === '--help' || word === '-h' || word === 'help';

function overview(): string {
  const width = Math.max(...QUERY_ENDPOINTS.map((e) => e.name.length));
  return [
    'Usage: telemetry query <readings|windows|latest|series> [options]',
    '',
    `${SUMMARY}.`,
    'Needs an operator token (telemetry keys operator-token) in --token or TELEMETRY_TOKEN.',
    '',
    'Subcommands:',
    ...QUERY_ENDPOINTS.map((e) => `  ${e.name.padEnd(width)}  ${e.summary}`),
    '',
    "Run 'telemetry query <subcommand> --help' for its options and an example.",
    '',
  ].join('\n');
}

function subcommandHelp(endpoint: QueryEndpoint): string {
  const names = new Set<string>(['url', 'token', ...endpoint.options, 'format']);
  const options = QUERY_OPTIONS.filter((o) => names.has(o.name)).map((o) => ({
    label: o.value === undefined ? `--${o.name}` : `--${o.name} ${o.value}`,
    description: o.description,
  }));
  const width = Math.max(...options.map((o) => o.label.length));
  return [
    `Usage: telemetry query ${endpoint.name} [options]`,
    '',
    `${endpoint.summary}, from ${endpoint.path}.`,
    '',
    'Options:',
    ...options.map((o) => `  ${o.label.padEnd(width)}  ${o.description}`),
    '',
    'Example:',
    `  TELEMETRY_TOKEN=$(telemetry keys operator-token --issuer data/operator.key.json --scope read) \\`,
    `    ${endpoint.example}`,
    '',
  ].join('\n');
}

async function run(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || isHelp(name)) {
    (name === undefined ? io.stderr : io.stdout)(overview());
    return name === undefined ? 2 : 0;
  }
  const endpoint = QUERY_ENDPOINTS.find((e) => e.name === name);
  if (endpoint === undefined) {
    io.stderr(`telemetry query: unknown subcommand '${name}'\n\n${overview()}`);
    return 2;
  }
  if (rest.some(isHelp)) {
    io.stdout(subcommandHelp(endpoint));
    return 0;
  }
  try {
    const plan = parseQueryPlan(endpoint, rest, io, Date.now());
    const pages: QueryPage[] = [];
    for await (const page of fetchPages(plan.url, { token: plan.token, response: endpoint.response, all: plan.all })) {
      pages.push(page);
    }
    io.stdout(renderPages(plan, pages));
    const next = pages.at(-1)?.nextCursor;
    if (next !== undefined && plan.format !== 'json') {
      io.stderr(`more items follow: add --all, or --cursor ${next}\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`telemetry query ${name}: ${error.message}\nRun 'telemetry query ${name} --help' for usage.\n`);
      return 2;
    }
    if (error instanceof QueryFailure) {
      io.stderr(`telemetry query ${name}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/**
 * `telemetry query`: readings, windowed aggregates, latest values and the
 * series known, from a node's query API, as an aligned table, CSV or JSON.
 *
 * @example
 * await runCli(['query', 'readings', '--device', 'boiler-7', '--since', '1h', '--format', 'csv'], io);
 */
export const queryCommand: Command = {
  name: 'query',
  summary: SUMMARY,
  help: overview(),
  run,
};
