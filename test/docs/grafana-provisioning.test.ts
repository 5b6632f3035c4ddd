import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEVICE_TAG, TELEMETRY_MEASUREMENT } from '../../src/store/line-protocol.js';
import { haproxyBindPorts, haproxySections, loadCompose, readRepoFile, repoPathAt, repoRoot } from './compose-stack.js';
import { type InfinityDatasource, type InfinityQuery, infinityAllows, infinityRequestUrl } from './infinity-query.js';

interface Datasource {
  readonly name: string;
  readonly uid: string;
  readonly type: string;
  readonly url: string;
  readonly jsonData: { version: string; organization: string; defaultBucket: string };
  readonly secureJsonData: { token: string };
}

interface Panel {
  readonly title: string;
  readonly datasource?: { type: string; uid: string };
  readonly targets?: ReadonlyArray<{ query?: string; expr?: string; datasource?: { uid: string } }>;
}

interface Dashboard {
  readonly uid: string;
  readonly panels: readonly Panel[];
  readonly templating: { list: ReadonlyArray<{ name: string; query: string; datasource: { uid: string } }> };
}

const compose = loadCompose();
const grafana = compose.services.grafana;
const influxInit = compose.services.influxdb?.environment ?? {};
const datasourceFiles = readdirSync(join(repoRoot, 'deploy/grafana/provisioning/datasources'));
const datasources = datasourceFiles.flatMap(
  (file) =>
    (parse(readRepoFile(`deploy/grafana/provisioning/datasources/${file}`)) as { datasources: Datasource[] })
      .datasources,
);
const influx = datasources.find((d) => d.type === 'influxdb');
const prometheus = datasources.find((d) => d.type === 'prometheus');
const providers = (
  parse(readRepoFile('deploy/grafana/provisioning/dashboards/telemetry.yaml')) as {
    providers: Array<{ type: string; options: { path: string } }>;
  }
).providers;
const dashboardFiles = readdirSync(join(repoRoot, 'deploy/grafana/dashboards')).filter((f) => f.endsWith('.json'));
const allDashboards = dashboardFiles.map((file): [string, Dashboard] => [
  file,
  JSON.parse(readRepoFile(`deploy/grafana/dashboards/${file}`)) as Dashboard,
]);
/**
 * The dashboards of what is stored, read from InfluxDB with Flux; the operations one reads Prometheus
 * (prometheus-stack.test.ts), the API one the query API (below, and grafana-api-dashboard.test.ts).
 */
const dashboards = allDashboards.filter(
  ([file]) => !['telemetry-operations.json', 'telemetry-api.json'].includes(file),
);
const operations = allDashboards.find(([file]) => file === 'telemetry-operations.json')?.[1];

/** Every Flux query of a dashboard: the panels' and the template variables'. */
function queries(dashboard: Dashboard): string[] {
  return [
    ...dashboard.panels.flatMap((panel) => panel.targets?.map((target) => target.query ?? '') ?? []),
    ...dashboard.templating.list.map((variable) => variable.query),
  ];
}

/** Grafana's `$NAME` / `${NAME}` in provisioning files, from the grafana service's environment. */
function grafanaEnv(value: string): string {
  return value.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_m, name: string) => grafana?.environment?.[name] ?? '');
}

describe('Grafana provisioning (deploy/grafana)', () => {
  it('opens on the provisioned dashboard', () => {
    const home = grafana?.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    expect(repoPathAt(grafana, home)).toBe('deploy/grafana/dashboards/telemetry-readings.json');
  });

  it('is mounted where Grafana reads provisioning files', () => {
    for (const file of ['influxdb.yaml', 'prometheus.yaml', 'telemetry-api.yaml']) {
      expect(repoPathAt(grafana, `/etc/grafana/provisioning/datasources/${file}`)).toBe(
        `deploy/grafana/provisioning/datasources/${file}`,
      );
    }
    expect(repoPathAt(grafana, '/etc/grafana/provisioning/dashboards/telemetry.yaml')).toBe(
      'deploy/grafana/provisioning/dashboards/telemetry.yaml',
    );
  });

  it('queries the influxdb service with Flux, in the organisation and bucket InfluxDB is set up with', () => {
    expect(influx).toBeDefined();
    const url = new URL(influx?.url ?? '');
    expect({ host: url.hostname, port: Number(url.port) }).toEqual({ host: 'influxdb', port: 8086 });
    expect(influx?.jsonData).toEqual({
      version: 'Flux',
      organization: influxInit.DOCKER_INFLUXDB_INIT_ORG,
      defaultBucket: influxInit.DOCKER_INFLUXDB_INIT_BUCKET,
    });
  });

  it("gets InfluxDB's token from Grafana's environment, the token InfluxDB is set up with", () => {
    expect(influx?.secureJsonData.token).toMatch(/^\$/);
    expect(grafanaEnv(influx?.secureJsonData.token ?? '')).toBe(influxInit.DOCKER_INFLUXDB_INIT_ADMIN_TOKEN);
  });

  it('loads dashboards from the folder the dashboard files are mounted at', () => {
    expect(providers.map((p) => p.type)).toEqual(['file']);
    expect(repoPathAt(grafana, providers[0]?.options.path ?? '')).toBe('deploy/grafana/dashboards');
    expect(dashboardFiles).toEqual(['telemetry-api.json', 'telemetry-operations.json', 'telemetry-readings.json']);
  });

  it('queries the prometheus service on the port it listens on, with its scrape interval', () => {
    const url = new URL(prometheus?.url ?? '');
    expect(url.hostname).toBe('prometheus');
    expect(compose.services.prometheus?.expose).toContain(url.port);
    const config = parse(readRepoFile('deploy/prometheus/prometheus.yml')) as { global: { scrape_interval: string } };
    expect((prometheus as { jsonData?: { timeInterval?: string } } | undefined)?.jsonData?.timeInterval).toBe(
      config.global.scrape_interval,
    );
  });

  it('has the operations dashboard ask the Prometheus data source only, in PromQL, about what the issue names', () => {
    const panels = operations?.panels ?? [];
    const uids = panels.flatMap((panel) => [
      panel.datasource?.uid,
      ...(panel.targets ?? []).map((t) => t.datasource?.uid),
    ]);
    expect(new Set(uids)).toEqual(new Set([prometheus?.uid]));
    const exprs = panels.flatMap((panel) => (panel.targets ?? []).map((t) => t.expr ?? ''));
    expect(exprs.every((expr) => expr !== '')).toBe(true);
    // accepted/rejected by code and transport, ack latency, store write latency and failures, in-flight
    // readings, connections, backpressure.
    for (const wanted of [
      /sum by \(transport\) \(rate\(telemetry_messages_accepted_total/,
      /sum by \(code, transport\) \(rate\(telemetry_messages_rejected_total/,
      /telemetry_ack_seconds_bucket/,
      /telemetry_store_write_seconds_bucket/,
      /telemetry_store_write_seconds_count\{outcome="failed"\}/,
      /telemetry_inflight_readings/,
      /telemetry_mqtt_connections\b/,
      /ERR_OVERLOADED/,
      /telemetry_mqtt_connections_paused/,
    ]) {
      expect(
        exprs.some((expr) => wanted.test(expr)),
        String(wanted),
      ).toBe(true);
    }
    expect(new Set(panels.map((panel) => panel.title)).size).toBe(panels.length);
  });

  it.each(dashboards)('has %s ask the provisioned data source only', (_file, dashboard) => {
    const uids = [
      ...dashboard.panels.flatMap((panel) => [
        panel.datasource?.uid,
        ...(panel.targets ?? []).map((t) => t.datasource?.uid),
      ]),
      ...dashboard.templating.list.map((variable) => variable.datasource.uid),
    ];
    expect(new Set(uids)).toEqual(new Set([influx?.uid]));
  });

  it.each(dashboards)(
    'has %s query only the bucket, measurement and tag the store writes (src/store/line-protocol.ts)',
    (_file, dashboard) => {
      const all = queries(dashboard);
      expect(all.length).toBeGreaterThan(4);
      const bucket = influxInit.DOCKER_INFLUXDB_INIT_BUCKET;
      for (const query of all) {
        const buckets = [...query.matchAll(/bucket: "([^"]*)"/g)].map((m) => m[1]);
        expect(buckets.length, query).toBeGreaterThan(0);
        expect(new Set(buckets), query).toEqual(new Set([bucket]));
        const measurements = [...query.matchAll(/(?:_measurement == |measurement: )"([^"]*)"/g)].map((m) => m[1]);
        expect(new Set(measurements), query).toEqual(new Set([TELEMETRY_MEASUREMENT]));
        // Columns of a row other than Flux's own (_time, _value, _field, ...) are tags: only `device` exists.
        const tags = [
          ...[...query.matchAll(/\br\.([A-Za-z][A-Za-z0-9_]*)/g)].map((m) => m[1]),
          ...[...query.matchAll(/tag: "([^"]*)"/g)].map((m) => m[1]),
          ...[...query.matchAll(/columns: \[([^\]]*)\]/g)]
            .flatMap((m) => (m[1] ?? '').split(',').map((column) => column.trim().replace(/^"|"$/g, '')))
            .filter((column) => !column.startsWith('_')),
        ];
        for (const tag of tags) expect(tag, query).toBe(DEVICE_TAG);
      }
    },
  );

  it.each(dashboards)('has %s use only the template variables it defines', (_file, dashboard) => {
    const defined = new Set(dashboard.templating.list.map((variable) => variable.name));
    const used = queries(dashboard).flatMap((query) =>
      [...query.matchAll(/\$\{([A-Za-z_]+)(?::[a-z]+)?\}|\$([A-Za-z_]+)/g)].map((m) => m[1] ?? m[2]),
    );
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(defined, name).toContain(name);
  });

  it('shows the fields of the telemetry measurement, one per metric, in a panel per metric', () => {
    const [, dashboard] = dashboards.find(([file]) => file === 'telemetry-readings.json') ?? [];
    const metric = dashboard?.templating.list.find((variable) => variable.name === 'metric');
    expect(metric?.query).toContain(`schema.measurementFieldKeys(bucket: "${influxInit.DOCKER_INFLUXDB_INIT_BUCKET}"`);
    const perMetric = dashboard?.panels.find((panel) => (panel as { repeat?: string }).repeat === 'metric');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${metric} variable, not a template literal
    expect(perMetric?.targets?.[0]?.query).toContain('r._field == "${metric}"');
  });
});

const INFINITY = 'yesoreyeram-infinity-datasource';
const api = datasources.find((d) => d.type === INFINITY) as (Datasource & InfinityDatasource) | undefined;
interface ApiDashboard {
  readonly panels: ReadonlyArray<{ readonly datasource?: { uid: string }; readonly targets: InfinityQuery[] }>;
  readonly templating: {
    readonly list: ReadonlyArray<{ name: string; type: string; query: unknown; datasource?: { uid: string } }>;
  };
}
const apiDashboard = JSON.parse(readRepoFile('deploy/grafana/dashboards/telemetry-api.json')) as ApiDashboard;

/** Every Infinity query of the API dashboard: the panels' and the device variable's. */
function apiQueries(): InfinityQuery[] {
  return [
    ...apiDashboard.panels.flatMap((panel) => panel.targets),
    ...apiDashboard.templating.list.flatMap((variable) =>
      typeof variable.query === 'object' && variable.query !== null
        ? [(variable.query as { infinityQuery: InfinityQuery }).infinityQuery]
        : [],
    ),
  ];
}

describe('Grafana through the query API (the Infinity data source)', () => {
  it('installs the Infinity plugin at a pinned version', () => {
    expect(grafana?.environment?.GF_INSTALL_PLUGINS).toMatch(new RegExp(`^${INFINITY} \\d+\\.\\d+\\.\\d+$`));
    expect(api?.uid).toBe('telemetry-api');
  });

  it("sends the operator token from Grafana's environment, which compose takes from the host's", () => {
    expect(api?.jsonData.auth_method).toBe('bearerToken');
    const reference = api?.secureJsonData?.bearerToken ?? '';
    expect(reference).toMatch(/^\$[A-Z_]+$/);
    const withToken = loadCompose({ [reference.slice(1)]: 'a.b.c' }).services.grafana?.environment ?? {};
    expect(withToken[reference.slice(1)]).toBe('a.b.c');
    // No default token: the compose file holds no credential for the API.
    expect(grafanaEnv(reference)).toBe('');
  });

  it('asks HAProxy on the port it takes HTTP on, and lets the token go only to its query API', () => {
    const url = new URL(api?.url ?? '');
    expect(url.hostname).toBe('haproxy');
    const http = haproxySections(readRepoFile('deploy/haproxy/haproxy.cfg')).find(
      (s) => s.kind === 'frontend' && s.name === 'http',
    );
    expect(http === undefined ? [] : haproxyBindPorts(http)).toContain(Number(url.port));
    expect(grafana?.depends_on?.haproxy).toBeDefined();
    expect(api?.jsonData.allowedHosts).toEqual([`${url.origin}/v1/query/`]);
  });

  it('has every panel and variable of the API dashboard ask that data source, with its backend JSON parser', () => {
    const uids = [
      ...apiDashboard.panels.flatMap((panel) => [
        panel.datasource?.uid,
        ...panel.targets.map((t) => t.datasource?.uid),
      ]),
      ...apiDashboard.templating.list.filter((v) => v.type === 'query').map((v) => v.datasource?.uid),
    ];
    expect(new Set(uids)).toEqual(new Set([api?.uid]));
    const queries = apiQueries();
    expect(queries.length).toBeGreaterThan(4);
    for (const query of queries) {
      // The backend parser: the same answers in alert rules, recorded queries and public dashboards.
      expect({ type: query.type, source: query.source, parser: query.parser }).toEqual({
        type: 'json',
        source: 'url',
        parser: 'backend',
      });
      expect(query.url).toMatch(/^\/v1\/query\/(readings|windows|latest|series)\?/);
      const url = infinityRequestUrl(api as InfinityDatasource, query.url.replace(/\$\{?[\w:]+\}?/g, 'x'));
      expect(infinityAllows(api as InfinityDatasource, url), url).toBe(true);
    }
  });

  it("sorts time series by time, since the API orders them by device and metric and Grafana's LongToWide needs time order", () => {
    const series = apiQueries().filter((query) => query.format === 'timeseries');
    expect(series.length).toBeGreaterThan(0);
    for (const query of series) {
      const time = query.columns.find((column) => column.type === 'timestamp_epoch');
      expect(time?.selector).toBe('ts');
      expect(query.root_selector).toBe(`items^(${time?.selector})`);
    }
  });

  it('uses only the variables it defines and the time range and interval Grafana provides', () => {
    const defined = new Set([
      ...apiDashboard.templating.list.map((variable) => variable.name),
      '__from',
      '__to',
      '__interval_ms',
    ]);
    const used = apiQueries().flatMap((query) =>
      [...query.url.matchAll(/\$\{([A-Za-z_]+)(?::[a-z]+)?\}|\$([A-Za-z_]+)/g)].map((m) => m[1] ?? m[2]),
    );
    expect(used).toEqual(expect.arrayContaining(['__from', '__to', '__interval_ms', 'prefix', 'device']));
    for (const name of used) expect(defined, name).toContain(name);
  });
});
