// What Grafana and its Infinity data source (yesoreyeram-infinity-datasource 3.7.1, the version docker-compose.yml
// pins) do with a panel's query, for the parts our provisioning uses, so a test can do the same against a real node:
// interpolate the dashboard's variables, put the data source's URL in front, check the allowed hosts, and turn the
// JSON answer into what a panel gets (the backend parser: gjson or JSONata root selector, typed columns, and for
// format=timeseries the SDK's LongToWide). Anything else the provisioning might use is refused, not guessed.

/** A column of an Infinity query: a gjson selector, the field's name and its type. */
interface InfinityColumn {
  readonly selector: string;
  readonly text: string;
  readonly type: string;
}

/** The fields of an Infinity query (pkg/models/query.go) that the provisioned dashboard sets. */
export interface InfinityQuery {
  readonly refId: string;
  readonly datasource?: { readonly type: string; readonly uid: string };
  readonly type: string;
  readonly source: string;
  readonly parser: string;
  readonly format: string;
  readonly url: string;
  readonly url_options?: { readonly method?: string };
  readonly root_selector: string;
  readonly columns: readonly InfinityColumn[];
}

/** The provisioned data source's settings that shape a request. */
export interface InfinityDatasource {
  readonly url: string;
  readonly jsonData: { readonly auth_method?: string; readonly allowedHosts?: readonly string[] };
  readonly secureJsonData?: { readonly bearerToken?: string };
}

/** A value of a typed field: a string, a number, epoch milliseconds, or null. */
type FieldValue = string | number | null;

/** One row of a table frame, by field name. */
export type Row = Readonly<Record<string, FieldValue>>;

/** One series of a wide time-series frame: its labels (the string fields) and its points. */
export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly points: ReadonlyArray<readonly [number, FieldValue]>;
}

/** What Grafana substitutes for one panel query. */
export interface GrafanaScope {
  readonly from: number;
  readonly to: number;
  readonly intervalMs: number;
  readonly variables: Readonly<Record<string, string>>;
}

/**
 * Grafana's template interpolation of a URL: `${__from}` and `${__to}` (epoch ms), `$__interval_ms`, and the
 * dashboard's variables as `$name`, `${name}` or `${name:percentencode}`. An unknown variable or format throws.
 */
export function interpolateGrafana(text: string, scope: GrafanaScope): string {
  const builtIn: Record<string, string> = {
    __from: String(scope.from),
    __to: String(scope.to),
    __interval_ms: String(scope.intervalMs),
  };
  return text.replace(
    /\$\{([A-Za-z_]\w*)(?::([a-z]+))?\}|\$([A-Za-z_]\w*)/g,
    (_m, braced?: string, format?: string, bare?: string) => {
      const name = braced ?? bare ?? '';
      const value = builtIn[name] ?? scope.variables[name];
      if (value === undefined) throw new Error(`no variable ${name}`);
      if (format === undefined || format === 'raw') return value;
      if (format === 'percentencode') return encodeURIComponent(value);
      throw new Error(`no format ${format}`);
    },
  );
}

/** The URL Infinity requests (GetQueryURL): the data source's URL in front of a query URL that does not start with it. */
export function infinityRequestUrl(datasource: InfinityDatasource, url: string): string {
  const full = url.startsWith(datasource.url) ? url : datasource.url + url;
  // Go's url.Parse then Query().Encode(): the parameters come out sorted and encoded again.
  const parsed = new URL(full);
  parsed.searchParams.sort();
  return parsed.href;
}

/** Infinity's CanAllowURL: with allowed hosts, the URL must start with one of them and have its host name. */
export function infinityAllows(datasource: InfinityDatasource, url: string): boolean {
  const allowed = datasource.jsonData.allowedHosts ?? [];
  if (allowed.length === 0) return true;
  const hostname = new URL(url).hostname;
  return allowed.some((prefix) => url.startsWith(prefix) && new URL(prefix).hostname === hostname);
}

/**
 * The root selector of the backend parser (jsonframer.GetRootData): a gjson path if it names something, else a
 * JSONata expression. Here: a top-level key (`items`), or a key sorted by a field (`items^(ts)`, JSONata's stable
 * order-by), which is what the provisioned dashboard uses.
 */
function rootData(answer: unknown, selector: string): unknown {
  const match = /^([A-Za-z_]\w*)(?:\^\(([A-Za-z_]\w*)\))?$/.exec(selector);
  if (match === null || typeof answer !== 'object' || answer === null) {
    throw new Error(`root selector ${selector} is not one this test reads`);
  }
  const [, key = '', orderBy] = match;
  const data = (answer as Record<string, unknown>)[key];
  if (orderBy === undefined || !Array.isArray(data)) return data;
  return [...data].sort((a, b) => Number(a[orderBy]) - Number(b[orderBy]));
}

/** gframer's conversion of a column's value to its type (string, number, timestamp_epoch). */
function typed(value: unknown, column: InfinityColumn): FieldValue {
  if (value === undefined || value === null) return null;
  switch (column.type) {
    case 'string':
      return String(value);
    case 'number':
      return typeof value === 'number' ? value : Number.parseFloat(String(value));
    case 'timestamp_epoch':
      return typeof value === 'number' ? Math.trunc(value) : Number.parseInt(String(value), 10);
    default:
      throw new Error(`column type ${column.type} is not one this test reads`);
  }
}

/** The table frame the backend parser makes of an answer: one row per item, one field per column. */
export function infinityRows(answer: unknown, query: InfinityQuery): Row[] {
  if (query.type !== 'json' || query.parser !== 'backend' || query.source !== 'url') {
    throw new Error(`query ${query.refId}: only the JSON backend parser on a URL is read here`);
  }
  const root = rootData(answer, query.root_selector);
  const items = Array.isArray(root) ? root : root === undefined || root === null ? [] : [root];
  return items.map((item: Record<string, unknown>) =>
    Object.fromEntries(
      query.columns.map((column) => [column.text || column.selector, typed(item[column.selector], column)]),
    ),
  );
}

/**
 * The frame a format=timeseries panel gets: the SDK's LongToWide of the rows, one series per distinct set of string
 * fields (its labels). LongToWide refuses rows whose time goes backwards, and Infinity then hands the panel the
 * long frame (one jagged series): that is an error here.
 */
export function infinitySeries(rows: readonly Row[], query: InfinityQuery): Series[] {
  const time = query.columns.find((column) => column.type === 'timestamp_epoch');
  const labels = query.columns.filter((column) => column.type === 'string').map((c) => c.text || c.selector);
  const values = query.columns.filter((column) => column.type === 'number').map((c) => c.text || c.selector);
  if (time === undefined || values.length !== 1) throw new Error(`query ${query.refId}: not a long time series`);
  const timeName = time.text || time.selector;
  const series = new Map<string, { labels: Record<string, string>; points: Array<[number, FieldValue]> }>();
  let last = Number.NEGATIVE_INFINITY;
  for (const row of rows) {
    const ts = Number(row[timeName]);
    if (ts < last) throw new Error(`query ${query.refId}: rows are not sorted by time, LongToWide refuses them`);
    last = ts;
    const rowLabels = Object.fromEntries(labels.map((name) => [name, String(row[name])]));
    const key = JSON.stringify(rowLabels);
    const entry = series.get(key) ?? { labels: rowLabels, points: [] };
    entry.points.push([ts, row[values[0] as string] ?? null]);
    series.set(key, entry);
  }
  return [...series.values()];
}
