import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse-config.js';
import { haproxyConfig } from '../support/haproxy-server.js';
import { pollUntil } from '../support/poll-until.js';
import { freePort } from '../support/server-process.js';
import {
  type ComposeService,
  containerPort,
  dockerfileEnv,
  haproxyBindPorts,
  haproxySections,
  haproxyServers,
  loadCompose,
  nodeServices,
  readRepoFile,
  repoPathAt,
  repoRoot,
} from './compose-stack.js';

const run = promisify(execFile);
const compose = loadCompose();
const services = compose.services;
const embeddedNodes = nodeServices(compose).filter(([, node]) => node.environment?.TELEMETRY_MQTT !== 'external');
const imageEnv = dockerfileEnv(readRepoFile('Dockerfile'));
const haproxyPath = 'deploy/haproxy/haproxy.cfg';
const haproxy = haproxySections(readRepoFile(haproxyPath));
const section = (kind: string, name: string) => haproxy.find((s) => s.kind === kind && s.name === name);

/** A node's settings as it sees them: the image's ENV, then the service's environment. */
function nodeConfig(node: ComposeService) {
  return parseConfig({ ...imageEnv, ...node.environment });
}

describe('deploy/haproxy/haproxy.cfg', () => {
  it('lists exactly the ingest nodes of docker-compose.yml in both backends, on the ports each node listens on', () => {
    for (const [backend, port] of [
      ['ingest_http', (node: ComposeService) => nodeConfig(node).httpPort],
      ['ingest_mqtt', (node: ComposeService) => nodeConfig(node).mqttPort],
    ] as const) {
      const servers = haproxyServers(section('backend', backend) ?? { kind: '', name: '', lines: [] });
      expect(servers.map((server) => server.host)).toEqual(embeddedNodes.map(([name]) => name));
      for (const server of servers) {
        const node = services[server.host];
        expect(node, `backend ${backend} server ${server.host}`).toBeDefined();
        if (node !== undefined) expect(server.port).toBe(port(node));
      }
    }
  });

  it('binds the ports the haproxy service publishes (HTTP, MQTT, stats), mounted where the image reads it', () => {
    const binds = haproxy.filter((s) => s.kind === 'frontend').flatMap(haproxyBindPorts);
    expect(binds.sort()).toEqual([1883, 8080, 8404]);
    expect(services.haproxy?.ports?.map(containerPort).sort()).toEqual(binds);
    expect(repoPathAt(services.haproxy, '/usr/local/etc/haproxy/haproxy.cfg')).toBe(haproxyPath);
  });

  it("passes HAProxy's own check, though the node names resolve only inside docker", async () => {
    const { stdout, stderr } = await run('/usr/sbin/haproxy', ['-c', '-f', join(repoRoot, haproxyPath)]);
    expect(`${stdout}${stderr}`).toContain('Configuration file is valid');
  });

  it('starts with every node name unresolved, answering 503 until docker DNS finds the nodes, its exporter and healthcheck answering', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'haproxy-conf-test-'));
    const ports = { 8080: await freePort(), 1883: await freePort(), 8404: await freePort() };
    const config = readRepoFile(haproxyPath).replace(
      /^(\s+bind ):(\d+)$/gm,
      (_line, bind: string, port: string) => `${bind}127.0.0.1:${ports[Number(port) as keyof typeof ports]}`,
    );
    expect(config).not.toMatch(/^\s+bind :/m); // every frontend moved to a free loopback port
    await writeFile(join(dir, 'haproxy.cfg'), config);
    const child = spawn('/usr/sbin/haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      let stats = '';
      await pollUntil(async () => {
        stats = await (await fetch(`http://127.0.0.1:${ports[8404]}/stats;csv`)).text();
        return stats.includes('ingest_mqtt,BACKEND');
      }, 'the stats page');
      const servers = stats.split('\n').filter((row) => /^ingest_(http|mqtt),ingest-/.test(row));
      expect(servers.length).toBe(2 * embeddedNodes.length);
      for (const row of servers) expect(row).toContain('MAINT (resolution)');
      const answer = await fetch(`http://127.0.0.1:${ports[8080]}/v1/messages`, { method: 'POST', body: 'x' });
      expect(answer.status).toBe(503);
      // What Prometheus scrapes (deploy/prometheus/prometheus.yml, job haproxy): the exporter, on the stats port.
      const exported = await (await fetch(`http://127.0.0.1:${ports[8404]}/metrics`)).text();
      expect(exported).toMatch(/^haproxy_backend_active_servers\{proxy="ingest_http"\} 0$/m);
      // Every HAProxy metric the operations dashboard reads is one this HAProxy exports.
      const dashboard = readRepoFile('deploy/grafana/dashboards/telemetry-operations.json');
      const read = new Set([...dashboard.matchAll(/\b(haproxy_[a-z0-9_]+)/g)].map((m) => m[1] ?? ''));
      expect(read.size).toBeGreaterThan(0);
      for (const name of read) expect(exported, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
      // The compose healthcheck, as the container runs it, on the stats port moved to its free port.
      const check = services.haproxy?.healthcheck?.test ?? [];
      expect(check.slice(0, 3)).toEqual(['CMD', 'bash', '-c']);
      const script = (check[3] ?? '').replace('/127.0.0.1/8404', `/127.0.0.1/${ports[8404]}`);
      expect(script).not.toBe(check[3]);
      await run('bash', ['-c', script]);
    } finally {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("resolves the node names with docker's DNS server, starting a server down while its name does not resolve", () => {
    expect(section('resolvers', 'docker')?.lines).toContain('nameserver dns 127.0.0.11:53');
    for (const backend of ['ingest_http', 'ingest_mqtt']) {
      const defaults = section('backend', backend)?.lines.find((line) => line.startsWith('default-server ')) ?? '';
      expect(defaults).toMatch(/ resolvers docker /);
      expect(defaults).toMatch(/ init-addr \S*none\b/);
    }
  });

  it('keeps every setting of the failover drill (test/support/haproxy-server.ts) but the check interval', () => {
    // Addresses, binds and DNS settings differ by design; the drill checks every 250 ms to stay short.
    const normalise = (line: string) =>
      line.replace(/ (resolvers|init-addr|inter) \S+/g, '').replace(/^(bind|server) .*/, '$1');
    const drill = haproxySections(
      haproxyConfig({ http: 1, mqtt: 2, stats: 3 }, [{ name: 'ingest-1', httpPort: 8080, mqttPort: 1883 }]),
    );
    for (const drillSection of drill) {
      const ours = section(drillSection.kind, drillSection.name);
      expect(ours, `${drillSection.kind} ${drillSection.name}`).toBeDefined();
      const lines = new Set(ours?.lines.map(normalise));
      const missing = drillSection.lines.map(normalise).filter((line) => !lines.has(line));
      expect(missing, `${drillSection.kind} ${drillSection.name}`).toEqual([]);
    }
  });
});
