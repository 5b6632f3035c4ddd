import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { pollUntil } from '../support/poll-until.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';
import { freePort } from '../support/server-process.js';
import { readRepoFile, repoRoot } from './compose-stack.js';

const run = promisify(execFile);
const PROMETHEUS_CONFIG = 'deploy/prometheus/prometheus.yml';

interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  static_configs?: Array<{ targets: string[] }>;
  dns_sd_configs?: unknown[];
}

interface OperationsDashboard {
  readonly panels: ReadonlyArray<{ title: string; targets: ReadonlyArray<{ expr: string }> }>;
}

const dashboard = JSON.parse(
  readRepoFile('deploy/grafana/dashboards/telemetry-operations.json'),
) as OperationsDashboard;
const panelQueries = dashboard.panels.flatMap((panel) =>
  panel.targets.map((t): [string, string] => [panel.title, t.expr]),
);

/** The metric names a PromQL expression reads: identifiers followed by a selector, a range or a closing paren. */
function metricNames(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, '{}').replace(/\b(?:by|without) \([^)]*\)/g, '');
  return [...withoutLabels.matchAll(/\b([a-z_:][a-z0-9_:]*)\b(?=\s*(?:\{|\[|\)|$))/g)].map((m) => m[1] ?? '');
}

/** Histograms are exported as name_bucket, name_sum and name_count. */
function exportedAs(name: string): string {
  return name.replace(/_(bucket|sum|count)$/, '');
}

/** Grafana's $__rate_interval, as it would be for a 15 s scrape interval. */
function asGrafanaSends(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m');
}

describe('deploy/prometheus/prometheus.yml and the operations dashboard, against a real node', () => {
  let dir: string;
  let node: ServeProcess | undefined;
  let prometheus: ChildProcess | undefined;
  let prometheusUrl: string;
  /** The metric names the node exports (its `# TYPE` lines). */
  let exported: Set<string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prometheus-stack-'));
    node = await startServe({ cwd: dir, env: { TELEMETRY_MQTT_PORT: '0' } });
    const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
    exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? ''));

    // The repository's configuration, with the node's address for the ingest nodes and a short interval;
    // HAProxy's exporter is checked against the real HAProxy (haproxy-config.test.ts), the profile's DNS job
    // would find nothing here.
    const config = parse(readRepoFile(PROMETHEUS_CONFIG)) as {
      global: { scrape_interval: string; scrape_timeout: string };
      scrape_configs: ScrapeConfig[];
    };
    config.global.scrape_interval = '1s';
    config.global.scrape_timeout = '1s';
    const nodeTarget = new URL(node.httpUrl).host;
    config.scrape_configs = config.scrape_configs
      .filter((job) => job.job_name === 'telemetry-ingest')
      .map((job) => ({ ...job, static_configs: [{ targets: [nodeTarget] }] }));
    await writeFile(join(dir, 'prometheus.yml'), stringify(config));
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      '/usr/bin/prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    prometheus.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    // The compose healthcheck's URL.
    await pollUntil(async () => (await fetch(`${prometheusUrl}/-/ready`)).ok, 'Prometheus to be ready').catch(
      (error: unknown) => {
        throw new Error(`Prometheus did not start:\n${log.slice(-2000)}`, { cause: error });
      },
    );
    await pollUntil(async () => {
      const answer = (await (await fetch(`${prometheusUrl}/api/v1/query?query=telemetry_build_info`)).json()) as {
        data: { result: unknown[] };
      };
      return answer.data.result.length === 1;
    }, 'a scrape of the node');
  });

  afterAll(async () => {
    if (prometheus !== undefined && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await node?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("passes promtool's check", async () => {
    const { stdout } = await run('promtool', ['check', 'config', join(repoRoot, PROMETHEUS_CONFIG)]);
    expect(stdout).toContain('SUCCESS');
  });

  it('reads every metric the nodes need from one of them: each panel query names metrics the node exports', () => {
    for (const [title, expr] of panelQueries) expect(metricNames(expr).length, title).toBeGreaterThan(0);
    const named = panelQueries.flatMap(([, expr]) => metricNames(expr));
    // HAProxy's own and Prometheus' `up` are checked by haproxy-config.test.ts and below.
    const ours = named.filter((name) => !name.startsWith('haproxy_') && name !== 'up');
    expect(ours.filter((name) => !exported.has(exportedAs(name)))).toEqual([]);
    expect(new Set(ours).size).toBeGreaterThan(10);
  });

  it.each(panelQueries)('has Prometheus answer the query of "%s" over what it scraped', async (_title, expr) => {
    const url = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(asGrafanaSends(expr))}`;
    const answer = (await (await fetch(url)).json()) as { status: string; error?: string };
    expect(answer.error).toBeUndefined();
    expect(answer.status).toBe('success');
  });

  it('scrapes the node as target up, with the version it runs', async () => {
    const query = async (q: string) =>
      (
        (await (await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as {
          data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
        }
      ).data.result;
    expect((await query('up{job="telemetry-ingest"}')).map((r) => r.value[1])).toEqual(['1']);
    const [info] = await query('telemetry_build_info');
    const { version } = JSON.parse(readRepoFile('package.json')) as { version: string };
    expect(info?.metric).toMatchObject({ job: 'telemetry-ingest', version, node_version: process.versions.node });
  });
});
