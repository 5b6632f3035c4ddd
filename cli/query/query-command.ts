import type { Command, CommandIo } from '../command.js';
import { type SubcommandEntry, subcommandsCommand } from '../dispatch-subcommands.js';
import { fetchPages, type QueryPage } from './fetch-pages.js';
import { QUERY_ENDPOINTS, type QueryEndpoint } from './query-endpoints.js';
import { parseQueryPlan, QUERY_OPTIONS } from './query-plan.js';
import { renderPages } from './render-pages.js';

function endpointHelp(endpoint: QueryEndpoint): string {
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

/** Asks the node and prints the answer; throws UsageError for bad options, QueryFailure when the node fails. */
async function runQuery(endpoint: QueryEndpoint, argv: readonly string[], io: CommandIo): Promise<number> {
  // Besides --help and -h (the dispatcher's), query takes a bare `help` among the options for a request for help.
  if (argv.includes('help')) {
    io.stdout(endpointHelp(endpoint));
    return 0;
  }
  const plan = parseQueryPlan(endpoint, argv, io, Date.now());
  const pages: QueryPage[] = [];
  for await (const page of fetchPages(plan.url, { token: plan.token, columns: endpoint.columns, all: plan.all })) {
    pages.push(page);
  }
  io.stdout(renderPages(plan, pages));
  const next = pages.at(-1)?.nextCursor;
  if (next !== undefined && plan.format !== 'json') {
    io.stderr(`more items follow: add --all, or --cursor ${next}\n`);
  }
  return 0;
}

/** An endpoint of the query API as a subcommand: its own help and its own option parser (query-plan.ts). */
function endpointSubcommand(endpoint: QueryEndpoint): SubcommandEntry {
  return {
    name: endpoint.name,
    summary: endpoint.summary,
    help: () => endpointHelp(endpoint),
    run: (argv, io) => runQuery(endpoint, argv, io),
  };
}

/**
 * `telemetry query`: readings, windowed aggregates, latest values and the
 * series known, from a node's query API, as an aligned table, CSV or JSON.
 * A QueryFailure (the node unreachable or answering an error) is printed as one line, exit code 1.
 *
 * @example
 * await runCli(['query', 'readings', '--device', 'boiler-7', '--since', '1h', '--format', 'csv'], io);
 */
export const queryCommand: Command = subcommandsCommand({
  command: 'query',
  summary: 'Query stored telemetry through a node (readings, windows, latest, series)',
  placeholder: `<${QUERY_ENDPOINTS.map((e) => e.name).join('|')}>`,
  notes: ['Needs an operator token (telemetry keys operator-token) in --token or TELEMETRY_TOKEN.'],
  subcommands: QUERY_ENDPOINTS.map(endpointSubcommand),
});
