import { parseSpan } from '../../src/query/parse-span.js';
import { resolveTime } from '../../src/query/resolve-time.js';
import { MAX_PAGE_LIMIT } from '../../src/store/keyset-page.js';
import { type CommandIo, parseCommandArgs, UsageError } from '../command.js';
import type { QueryEndpoint, QueryOptionName } from './query-endpoints.js';

/** How the CLI prints what it got. */
type OutputFormat = 'table' | 'csv' | 'json';

/** Where the CLI connects when neither --url nor TELEMETRY_URL says. */
const DEFAULT_URL = 'http://127.0.0.1:8080';

/** A parsed `telemetry query` command line: what to ask which node, and how to print it. */
export interface QueryPlan {
  readonly endpoint: QueryEndpoint;
  /** The absolute URL of the first page, query string included. */
  readonly url: URL;
  readonly token: string;
  readonly format: OutputFormat;
  /** Follow `nextCursor` to the last page. */
  readonly all: boolean;
  readonly aggregate: string;
}

/** One option as the parser and the help know it. */
export interface QueryOptionDoc {
  readonly name: QueryOptionName | 'url' | 'token' | 'format';
  readonly value?: string;
  readonly description: string;
  readonly multiple?: boolean;
}

/** Every option, in the order the help lists them. */
export const QUERY_OPTIONS: readonly QueryOptionDoc[] = [
  { name: 'url', value: 'URL', description: `The node's HTTP API (TELEMETRY_URL; default ${DEFAULT_URL}).` },
  {
    name: 'token',
    value: 'TOKEN',
    description: 'An operator token (TELEMETRY_TOKEN, preferred: a command line is visible to other users).',
  },
  { name: 'device', value: 'ID', description: 'A device id; repeat for several. Required.', multiple: true },
  { name: 'metric', value: 'NAME', description: 'A metric name; repeat for several. Default: all.', multiple: true },
  { name: 'since', value: 'SPAN', description: 'From SPAN ago until now: 90s, 15m, 1h, 7d.' },
  { name: 'from', value: 'TIME', description: 'Start, inclusive: RFC 3339, ms since the epoch, or -2h (ago).' },
  { name: 'to', value: 'TIME', description: 'End, exclusive, as for --from. Default: now.' },
  { name: 'window', value: 'SPAN', description: 'Window length: 500ms, 30s, 5m, 1h, 1d. Required.' },
  { name: 'aggregate', value: 'AGG', description: 'mean, min, max, sum, count or last. Default: mean.' },
  { name: 'prefix', value: 'PREFIX', description: 'Only devices whose id starts with PREFIX.' },
  { name: 'limit', value: 'N', description: `Items per page, 1 to ${MAX_PAGE_LIMIT}. Default: 1000.` },
  { name: 'cursor', value: 'CURSOR', description: 'Continue from the nextCursor of an earlier page.' },
  { name: 'all', description: 'Follow the pages to the end.' },
  { name: 'format', value: 'FORMAT', description: 'table (aligned, default), csv, or json.' },
];

const AGGREGATES = ['mean', 'min', 'max', 'sum', 'count', 'last'];
const FORMATS: readonly OutputFormat[] = ['table', 'csv', 'json'];

function isOutputFormat(value: string): value is OutputFormat {
  return (FORMATS as readonly string[]).includes(value);
}

function time(name: string, text: string, now: number): number {
  const value = resolveTime(text, now);
  if (value === undefined) {
    throw new UsageError(`--${name} ${JSON.stringify(text)} is not a time: RFC 3339, ms since the epoch, or -2h`);
  }
  return value;
}

function span(name: string, text: string): number {
  const value = parseSpan(text);
  if (value === undefined) throw new UsageError(`--${name} ${JSON.stringify(text)} is not a length of time (5m, 1h)`);
  return value;
}

/** The range from --since, or --from and --to; relative times are resolved once, so every page asks the same. */
function range(values: Record<string, unknown>, now: number): { from: number; to: number } {
  const { since, from, to } = values;
  if (typeof since === 'string') {
    if (from !== undefined || to !== undefined) throw new UsageError('--since cannot go with --from or --to');
    return { from: now - span('since', since), to: now };
  }
  if (typeof from !== 'string') throw new UsageError('--since or --from is required');
  const range = { from: time('from', from, now), to: typeof to === 'string' ? time('to', to, now) : now };
  if (range.from >= range.to) throw new UsageError('--from must be before --to');
  return range;
}

/**
 * `--from -2h` as `--from=-2h`: parseArgs takes a value starting with a dash
 * for a missing value, but a time before now is what the user means.
 */
function joinRelativeTimes(argv: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? '';
    const next = argv[i + 1];
    if ((word === '--from' || word === '--to') && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${word}=${next}`);
      i++;
    } else {
      joined.push(word);
    }
  }
  return joined;
}

/**
 * Parses the words after `telemetry query <subcommand>` into a plan, taking
 * the URL and token from the environment when the options do not give them.
 *
 * @throws UsageError for options the subcommand does not take or bad values.
 */
export function parseQueryPlan(
  endpoint: QueryEndpoint,
  argv: readonly string[],
  io: CommandIo,
  now: number,
): QueryPlan {
  const allowed = new Set<string>([...endpoint.options, 'url', 'token', 'format']);
  const parserOptions = Object.fromEntries(
    QUERY_OPTIONS.map((o) => [
      o.name,
      o.value === undefined ? { type: 'boolean' as const } : { type: 'string' as const, multiple: o.multiple === true },
    ]),
  );
  const { values } = parseCommandArgs(joinRelativeTimes(argv), parserOptions);
  for (const name of Object.keys(values)) {
    if (!allowed.has(name)) throw new UsageError(`--${name} is not an option of 'query ${endpoint.name}'`);
  }
  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const list = (name: string): readonly string[] => {
    const value = values[name];
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  };

  const token = text('token') ?? io.env.TELEMETRY_TOKEN ?? '';
  if (token === '') throw new UsageError('--token or TELEMETRY_TOKEN is required');
  const format = text('format') ?? 'table';
  if (!isOutputFormat(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
  const base = text('url') ?? io.env.TELEMETRY_URL ?? DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(endpoint.path, base);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(base)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--url must be http or https');

  const params = url.searchParams;
  params.set('format', 'json');
  for (const device of list('device')) params.append('device', device);
  for (const metric of list('metric')) params.append('metric', metric);
  if (endpoint.options.includes('device') && !params.has('device')) throw new UsageError('--device is required');
  if (endpoint.options.includes('since')) {
    const { from, to } = range(values, now);
    params.set('from', String(from));
    params.set('to', String(to));
  }
  const aggregate = text('aggregate') ?? 'mean';
  if (endpoint.options.includes('window')) {
    const window = text('window');
    if (window === undefined) throw new UsageError('--window is required');
    params.set('windowMs', String(span('window', window)));
    if (!AGGREGATES.includes(aggregate)) throw new UsageError(`--aggregate must be one of ${AGGREGATES.join(', ')}`);
    params.set('aggregate', aggregate);
  }
  for (const name of ['prefix', 'limit', 'cursor']) {
    const value = text(name);
    if (value !== undefined) params.set(name, value);
  }
  return { endpoint, url, token, format, all: values.all === true, aggregate };
}
