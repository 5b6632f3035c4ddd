import type { CsvValue } from '../../src/query/format-csv.js';

/** The options a `telemetry query` subcommand may take (beyond --url, --token, --format, --help). */
export type QueryOptionName =
  | 'device'
  | 'metric'
  | 'since'
  | 'from'
  | 'to'
  | 'window'
  | 'aggregate'
  | 'prefix'
  | 'limit'
  | 'cursor'
  | 'all';

/** One item of any query answer: its fields are names, times and values. */
export type QueryItem = Readonly<Record<string, CsvValue>>;

/** One endpoint of the query API as the CLI uses it. */
export interface QueryEndpoint {
  readonly name: 'readings' | 'windows' | 'latest' | 'series';
  readonly summary: string;
  readonly path: string;
  readonly options: readonly QueryOptionName[];
  readonly example: string;
  /** The API's CSV columns: the fields of its JSON items (src/query/query-schemas.ts), each checked in every answer. */
  readonly columns: readonly string[];
  /** The table's header, given the aggregate of a windowed query. */
  readonly tableHeader: (aggregate: string) => readonly string[];
  /** The table cells of one item. */
  readonly tableRow: (item: QueryItem) => readonly string[];
}

const PAGED: readonly QueryOptionName[] = ['device', 'metric', 'since', 'from', 'to', 'limit', 'cursor', 'all'];
const POINT_COLUMNS = ['device', 'metric', 'ts', 'value'];

function time(value: CsvValue | undefined): string {
  return typeof value === 'number' ? new Date(value).toISOString() : String(value ?? '');
}

function pointRow(item: QueryItem): readonly string[] {
  return [String(item.device), String(item.metric), time(item.ts), String(item.value)];
}

/** The four query subcommands, in the order the help lists them. */
export const QUERY_ENDPOINTS: readonly QueryEndpoint[] = [
  {
    name: 'readings',
    summary: 'Readings of devices and metrics over a time range',
    path: '/v1/query/readings',
    options: PAGED,
    example: 'telemetry query readings --device boiler-7 --metric temperature --since 1h',
    columns: POINT_COLUMNS,
    tableHeader: () => ['device', 'metric', 'time', 'value'],
    tableRow: pointRow,
  },
  {
    name: 'windows',
    summary: 'Readings downsampled into windows with an aggregate',
    path: '/v1/query/windows',
    options: [...PAGED, 'window', 'aggregate'],
    example: 'telemetry query windows --device boiler-7 --since 24h --window 1h --aggregate max',
    columns: POINT_COLUMNS,
    tableHeader: (aggregate) => ['device', 'metric', 'window start', aggregate],
    tableRow: pointRow,
  },
  {
    name: 'latest',
    summary: 'The latest value of each device and metric',
    path: '/v1/query/latest',
    options: ['prefix', 'metric'],
    example: 'telemetry query latest --prefix boiler-',
    columns: POINT_COLUMNS,
    tableHeader: () => ['device', 'metric', 'time', 'value'],
    tableRow: pointRow,
  },
  {
    name: 'series',
    summary: 'The devices and metrics stored, with when each was last seen',
    path: '/v1/query/series',
    options: ['prefix'],
    example: 'telemetry query series --format csv',
    columns: ['device', 'metric', 'lastSeen'],
    tableHeader: () => ['device', 'metric', 'last seen'],
    tableRow: (item) => [String(item.device), String(item.metric), time(item.lastSeen)],
  },
];
