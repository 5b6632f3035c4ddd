import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { issueOperatorToken, signMessage } from '../../src/index.js';
import { makeDevice, type TestDevice } from '../support/devices.js';
import { type ServeProcess, startServe, telemetry } from '../support/serve-process.js';
import { readRepoFile } from './compose-stack.js';
import {
  type GrafanaScope,
  type InfinityDatasource,
  type InfinityQuery,
  infinityAllows,
  infinityRequestUrl,
  infinityRows,
  infinitySeries,
  interpolateGrafana,
  type Row,
  type Series,
} from './infinity-query.js';

// The "Telemetry via the query API" dashboard against a real `telemetry serve`: every Infinity query of it, with
// Grafana's macros substituted and the data source's URL rewritten to the test node, asked with an operator token
// issued by the command docker-compose.yml's header documents, and read the way the panel's parser and columns say.

interface Dashboard {
  readonly panels: ReadonlyArray<{ readonly id: number; readonly title: string; readonly targets: InfinityQuery[] }>;
  readonly templating: {
    readonly list: ReadonlyArray<{
      readonly name: string;
      readonly type: string;
      readonly query: string | { readonly infinityQuery: InfinityQuery };
    }>;
  };
}

/** One stored value, as the API's items have it. */
interface Point {
  readonly device: string;
  readonly metric: string;
  readonly ts: number;
  readonly value: number;
}

const dashboard = JSON.parse(readRepoFile('deploy/grafana/dashboards/telemetry-api.json')) as Dashboard;
const provisioned = (
  parse(readRepoFile('deploy/grafana/provisioning/datasources/telemetry-api.yaml')) as {
    datasources: InfinityDatasource[];
  }
).datasources[0] as InfinityDatasource;
/** The token command of docker-compose.yml's header, as an operator would paste it. */
const tokenCommand = /--entrypoint telemetry provision (keys operator-token [^)]*)\)/.exec(
  readRepoFile('docker-compose.yml'),
)?.[1];

/** Three devices: the documented token's scope (read:prefix:sim-thermo-) covers two. */
const DEVICES = ['sim-thermo-00000', 'sim-thermo-00001', 'sim-meter-00000'];
/** Whole minutes, ten minutes ago: the readings are 10 s apart, each in a window of its own. */
const T0 = Math.floor(Date.now() / 60_000) * 60_000 - 600_000;
const STEP = 10_000;
const points: Point[] = [];

let dir: string;
let node: ServeProcess | undefined;
let scopedToken: string;
let scopedPrefix: string;
let readAllToken: string;

/** The words of a shell command line with single-quoted words, as the shell would split it. */
function shellWords(command: string): string[] {
  return [...command.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
}

function storedValue(device: string, metric: string, i: number): number {
  // The meter's values are far from the thermostats', so a mean or max that took it in would show.
  const base = device.startsWith('sim-meter-') ? 1000 : 20 + DEVICES.indexOf(device) * 5;
  return base + (metric === 'humidity' ? 30 : 0) + i * 0.5;
}

async function storeReadings(device: TestDevice): Promise<void> {
  const readings = Array.from({ length: 6 }, (_, i) => ({
    ts: T0 + i * STEP,
    values: { temperature: storedValue(device.id, 'temperature', i), humidity: storedValue(device.id, 'humidity', i) },
  }));
  const response = await fetch(`${node?.httpUrl}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/jose' },
    body: await signMessage(device.signer, 1, readings),
  });
  expect(response.status, await response.text()).toBe(200);
  for (const reading of readings) {
    for (const [metric, value] of Object.entries(reading.values))
      points.push({ device: device.id, metric, ts: reading.ts, value });
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'grafana-api-'));
  await telemetry(
    ['keys', 'issuer', 'create', '--out', join(dir, 'operator.key.json'), '--jwks', join(dir, 'operators.jwks.json')],
    { cwd: dir },
  );
  if (tokenCommand === undefined) throw new Error("docker-compose.yml's header has no operator-token command");
  const args = shellWords(tokenCommand).map((word) =>
    word === '/fleet/operator.key.json' ? join(dir, 'operator.key.json') : word,
  );
  scopedToken = (await telemetry(args, { cwd: dir })).stdout.trim();
  scopedPrefix = /read:prefix:(\S+)/.exec(args[args.indexOf('--scope') + 1] ?? '')?.[1] ?? '';
  const issuer = JSON.parse(await readFile(join(dir, 'operator.key.json'), 'utf8'));
  readAllToken = await issueOperatorToken({
    issuerKey: issuer,
    subject: 'all',
    scope: 'read',
    lifetimeSeconds: 600,
    now: Date.now(),
  });

  const devices = await Promise.all(DEVICES.map((id) => makeDevice(id)));
  await writeFile(join(dir, 'registry.jwks.json'), JSON.stringify({ keys: devices.map((d) => d.publicJwk) }));
  node = await startServe({
    cwd: dir,
    env: {
      TELEMETRY_MQTT: 'off',
      TELEMETRY_DATA_DIR: join(dir, 'data'),
      TELEMETRY_KEY_REGISTRY: join(dir, 'registry.jwks.json'),
      TELEMETRY_OPERATOR_ISSUERS: join(dir, 'operators.jwks.json'),
      TELEMETRY_LOG_LEVEL: 'warn',
    },
    timeoutMs: 60_000,
  });
  for (const device of devices) await storeReadings(device);
}, 120_000);

afterAll(async () => {
  await node?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** What Grafana would substitute: a range around the readings, windows of one reading each, the given variables. */
function scopeWith(variables: Record<string, string>): GrafanaScope {
  return { from: T0 - 60_000, to: T0 + 120_000, intervalMs: STEP, variables };
}

/** Asks the test node what Grafana would ask the provisioned data source's host, with `token`. */
async function ask(
  query: InfinityQuery,
  scope: GrafanaScope,
  token: string,
): Promise<{ status: number; body: unknown }> {
  const url = infinityRequestUrl(provisioned, interpolateGrafana(query.url, scope));
  expect(infinityAllows(provisioned, url), url).toBe(true);
  const asked = new URL(url);
  const response = await fetch(`${node?.httpUrl}${asked.pathname}${asked.search}`, {
    method: query.url_options?.method ?? 'GET',
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: await response.json() };
}

function inScope(device: string, token: string): boolean {
  return token === readAllToken || device.startsWith(scopedPrefix);
}

/** The mean or max of numbers. */
function aggregate(values: number[], how: string): number {
  if (how === 'max') return Math.max(...values);
  if (how === 'mean') return values.reduce((a, b) => a + b, 0) / values.length;
  throw new Error(`aggregate ${how} is not modelled here`);
}

/** What a panel should get: the stored points the query selects and the token covers, as the endpoint shapes them. */
function expected(url: URL, token: string): { rows?: Row[]; series?: Series[] } {
  const params = url.searchParams;
  const named = params.getAll('device');
  const prefix = params.get('prefix');
  const selected = points.filter(
    (p) => inScope(p.device, token) && (prefix === null ? named.includes(p.device) : p.device.startsWith(prefix)),
  );
  const from = Number(params.get('from'));
  const to = Number(params.get('to'));
  const inRange = selected.filter((p) => p.ts >= from && p.ts < to);
  const seriesOf = (list: Point[]): Series[] => {
    const byKey = new Map<string, { labels: Record<string, string>; points: Array<[number, number]> }>();
    for (const p of [...list].sort((a, b) => a.ts - b.ts)) {
      const labels = { device: p.device, metric: p.metric };
      const key = JSON.stringify(labels);
      byKey.set(key, { labels, points: [...(byKey.get(key)?.points ?? []), [p.ts, p.value]] });
    }
    return [...byKey.values()];
  };
  switch (url.pathname) {
    case '/v1/query/readings':
      return { series: seriesOf(inRange) };
    case '/v1/query/windows': {
      const windowMs = Number(params.get('windowMs'));
      const fleet = params.get('group') === 'fleet';
      const groups = new Map<string, Point[]>();
      for (const p of inRange) {
        const device = fleet ? `${prefix ?? ''}*` : p.device;
        const key = JSON.stringify([device, p.metric, Math.floor(p.ts / windowMs) * windowMs]);
        groups.set(key, [...(groups.get(key) ?? []), { ...p, device }]);
      }
      const windows = [...groups.entries()].map(([key, group]) => {
        const [device, metric, ts] = JSON.parse(key) as [string, string, number];
        return {
          device,
          metric,
          ts,
          value: aggregate(
            group.map((p) => p.value),
            params.get('aggregate') ?? 'mean',
          ),
        };
      });
      return { series: seriesOf(windows) };
    }
    case '/v1/query/latest': {
      const latest = new Map<string, Point>();
      for (const p of selected) {
        const key = `${p.device} ${p.metric}`;
        if ((latest.get(key)?.ts ?? Number.NEGATIVE_INFINITY) < p.ts) latest.set(key, p);
      }
      return {
        rows: [...latest.values()]
          .sort((a, b) => (a.device === b.device ? a.metric.localeCompare(b.metric) : a.device.localeCompare(b.device)))
          .map((p) => ({ time: p.ts, device: p.device, metric: p.metric, value: p.value })),
      };
    }
    default:
      throw new Error(`${url.pathname} is not modelled here`);
  }
}

function sortedSeries(series: Series[]): Series[] {
  return [...series]
    .map((s) => ({
      labels: s.labels,
      points: s.points.map(([ts, v]) => [ts, typeof v === 'number' ? Number(v.toFixed(9)) : v] as const),
    }))
    .sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));
}

/** The dashboard's variables as Grafana would set them: the prefix textbox's default, the device query's first device. */
async function dashboardVariables(token: string): Promise<Record<string, string>> {
  const prefix = dashboard.templating.list.find((v) => v.name === 'prefix')?.query;
  if (typeof prefix !== 'string') throw new Error('no prefix textbox');
  const deviceVariable = dashboard.templating.list.find((v) => v.name === 'device')?.query;
  if (typeof deviceVariable !== 'object') throw new Error('no device query');
  const answer = await ask(deviceVariable.infinityQuery, scopeWith({ prefix }), token);
  expect(answer.status).toBe(200);
  const options = [
    ...new Set(infinityRows(answer.body, deviceVariable.infinityQuery).map((row) => String(row.device))),
  ].sort();
  return { prefix, device: options[0] ?? '' };
}

const targets = dashboard.panels.flatMap((panel) => panel.targets.map((target) => [panel.title, target] as const));

describe('the "Telemetry via the query API" dashboard against a real node', () => {
  it('issues the token with the command docker-compose.yml documents, scoped to a prefix', () => {
    expect(tokenCommand).toMatch(/--issuer \/fleet\/operator\.key\.json/);
    expect(scopedPrefix).toBe('sim-thermo-');
    expect(scopedToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it('offers only the devices the token covers in the device variable', async () => {
    const device = dashboard.templating.list.find((v) => v.name === 'device')?.query;
    if (typeof device !== 'object') throw new Error('no device query');
    const answer = await ask(device.infinityQuery, scopeWith({ prefix: 'sim-' }), scopedToken);
    const devices = new Set(infinityRows(answer.body, device.infinityQuery).map((row) => row.device));
    expect(devices).toEqual(new Set(['sim-thermo-00000', 'sim-thermo-00001']));
  });

  it.each(targets)('answers "%s" with what the token covers, as the panel reads it', async (_title, target) => {
    for (const token of [scopedToken, readAllToken]) {
      const scope = scopeWith(await dashboardVariables(token));
      const answer = await ask(target, scope, token);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      const rows = infinityRows(answer.body, target);
      const want = expected(new URL(infinityRequestUrl(provisioned, interpolateGrafana(target.url, scope))), token);
      if (target.format === 'timeseries') {
        const got = infinitySeries(rows, target);
        expect(got.length).toBeGreaterThan(0);
        expect(sortedSeries(got)).toEqual(sortedSeries(want.series ?? []));
      } else {
        expect(rows.length).toBeGreaterThan(0);
        expect(rows).toEqual(want.rows);
      }
      const devices = new Set(rows.map((row) => String(row.device)));
      if (token === scopedToken) for (const device of devices) expect(device).not.toMatch(/^sim-meter-/);
    }
  });

  it('refuses a panel pointed at a device outside the token (403), and shows it to a read token', async () => {
    const perDevice = targets.filter(([, target]) => target.url.includes('device=${device'));
    expect(perDevice.length).toBeGreaterThan(0);
    for (const [, target] of perDevice) {
      const scope = scopeWith({ prefix: 'sim-', device: 'sim-meter-00000' });
      const refused = await ask(target, scope, scopedToken);
      expect(refused.status).toBe(403);
      expect((refused.body as { error: { code: string } }).error.code).toBe('ERR_FORBIDDEN');
      const shown = await ask(target, scope, readAllToken);
      expect(shown.status).toBe(200);
      expect(new Set(infinityRows(shown.body, target).map((row) => row.device))).toEqual(new Set(['sim-meter-00000']));
    }
  });
});
