// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose's ${VARIABLE} syntax, not a template literal
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { listSettings, parseConfig } from '../../src/config/parse-config.js';
import {
  type ComposeService,
  containerPort,
  dockerfileEnv,
  haproxyBindPorts,
  haproxySections,
  interpolate,
  loadCompose,
  nodeServices,
  option,
  readRepoFile,
  repoPathAt,
  repoRoot,
  splitVolume,
} from './compose-stack.js';

const compose = loadCompose();
const services = compose.services;
const nodes = nodeServices(compose);
const embeddedNodes = nodes.filter(([, node]) => node.environment?.TELEMETRY_MQTT !== 'external');
const subscriberNodes = nodes.filter(([, node]) => node.environment?.TELEMETRY_MQTT === 'external');
const imageEnv = dockerfileEnv(readRepoFile('Dockerfile'));
const influxInit = services.influxdb?.environment ?? {};
const haproxyPath = 'deploy/haproxy/haproxy.cfg';
const haproxy = haproxySections(readRepoFile(haproxyPath));

/** A node's settings as it sees them: the image's ENV, then the service's environment. */
function nodeConfig(node: ComposeService) {
  return parseConfig({ ...imageEnv, ...node.environment });
}

/** The frontend whose default backend is `backend`, and the port it binds. */
function frontendPort(backend: string): number | undefined {
  const frontend = haproxy.find((s) => s.kind === 'frontend' && s.lines.includes(`default_backend ${backend}`));
  return frontend === undefined ? undefined : haproxyBindPorts(frontend)[0];
}

describe('docker-compose.yml', () => {
  it('resolves variables the way compose does: the placeholder default when a variable is unset or empty', () => {
    expect(interpolate('${TOKEN:-change-me}', {})).toBe('change-me');
    expect(interpolate('${TOKEN:-change-me}', { TOKEN: '' })).toBe('change-me');
    expect(interpolate('${TOKEN-change-me}', { TOKEN: '' })).toBe('');
    expect(interpolate('${TOKEN:-change-me}', { TOKEN: 's3cret' })).toBe('s3cret');
    expect(interpolate('a$$b $TOKEN', { TOKEN: 't' })).toBe('a$b t');
    expect(() => interpolate('${TOKEN:?set it}', {})).toThrow('set it');
  });

  it('runs three ingest nodes behind the load balancer, and two subscriber nodes in the external-broker profile', () => {
    expect(embeddedNodes.map(([name]) => name)).toEqual(['ingest-1', 'ingest-2', 'ingest-3']);
    expect(subscriberNodes.map(([name]) => name)).toEqual(['subscriber-1', 'subscriber-2']);
    for (const [, node] of subscriberNodes) expect(node.profiles).toEqual(['external-broker']);
    for (const name of ['mosquitto', 'simulator-broker']) expect(services[name]?.profiles).toEqual(['external-broker']);
  });

  it('sets only TELEMETRY_ variables that are real settings, in every service and in the image', () => {
    const known = new Set(listSettings().map((s) => s.schema.env));
    const names = [
      ...Object.keys(imageEnv),
      ...Object.values(services).flatMap((service) => Object.keys(service.environment ?? {})),
    ].filter((name) => name.startsWith('TELEMETRY_'));
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((name) => !known.has(name))).toEqual([]);
  });

  it.each(nodes)('gives %s settings the config parser accepts, writing to InfluxDB 2', (_name, node) => {
    const config = nodeConfig(node);
    expect(config.store).toBe('influxdb');
    expect(config.influxApi).toBe('v2');
    expect(new URL(config.influxUrl).hostname).toBe('influxdb');
  });

  it.each(nodes)('has %s write with the organisation, bucket and token InfluxDB is set up with', (_name, node) => {
    const config = nodeConfig(node);
    expect(influxInit.DOCKER_INFLUXDB_INIT_MODE).toBe('setup');
    expect({ org: config.influxOrg, bucket: config.influxBucket, token: config.influxToken }).toEqual({
      org: influxInit.DOCKER_INFLUXDB_INIT_ORG,
      bucket: influxInit.DOCKER_INFLUXDB_INIT_BUCKET,
      token: influxInit.DOCKER_INFLUXDB_INIT_ADMIN_TOKEN,
    });
    expect(config.influxToken).toMatch(/change-me/);
    expect(services.influxdb?.ports?.map(containerPort)).toContain(Number(new URL(config.influxUrl).port));
  });

  it.each(nodes)(
    'exposes on %s exactly the ports its settings listen on, publishing none, and checks /readyz there',
    (_name, node) => {
      const config = nodeConfig(node);
      const listening = config.mqtt === 'embedded' ? [config.httpPort, config.mqttPort] : [config.httpPort];
      expect(node.expose?.map(Number)).toEqual(listening);
      expect(node.ports).toBeUndefined();
      expect(node.healthcheck?.test?.join(' ')).toContain(`http://127.0.0.1:${config.httpPort}/readyz`);
    },
  );

  it.each(nodes)('starts %s after the keys are provisioned, reading key files provisioning writes', (_name, node) => {
    expect(node.depends_on?.provision?.condition).toBe('service_completed_successfully');
    expect(node.depends_on?.influxdb?.condition).toBe('service_healthy');
    const config = nodeConfig(node);
    const provision = services.provision;
    const script = provision?.command?.join('\n') ?? '';
    for (const file of [config.keyRegistry, config.operatorIssuers]) {
      const mount = node.volumes?.map(splitVolume).find((v) => file.startsWith(`${v.target}/`));
      expect(mount, `${file} is on a volume the node mounts`).toBeDefined();
      expect(mount?.mode).toBe('ro');
      const written = provision?.volumes?.map(splitVolume).find((v) => v.source === mount?.source);
      expect(written, `provision mounts the volume of ${file}`).toBeDefined();
      expect(script).toContain(file.replace(mount?.target ?? '', written?.target ?? ''));
    }
  });

  it('sends the simulators through the load balancer, and the broker simulator to Mosquitto', () => {
    const simulators = Object.entries(services).filter(([, s]) => s.command?.slice(0, 2).join(' ') === 'simulate run');
    expect(simulators.map(([name]) => name).sort()).toEqual(['simulator-broker', 'simulator-http', 'simulator-mqtt']);
    const mosquittoPort = services.mosquitto?.ports?.map(containerPort)[0];
    const expected: Record<string, { host: string; port: number | undefined }> = {
      'simulator-http': { host: 'haproxy', port: frontendPort('ingest_http') },
      'simulator-mqtt': { host: 'haproxy', port: frontendPort('ingest_mqtt') },
      'simulator-broker': { host: 'mosquitto', port: mosquittoPort },
    };
    const provisioned = services.provision?.command?.join('\n') ?? '';
    for (const [name, simulator] of simulators) {
      const args = simulator.command ?? [];
      const transport = option(args, 'transport');
      const target = new URL(option(args, transport === 'mqtt' ? 'mqtt-url' : 'url') ?? '');
      expect({ name, host: target.hostname, port: Number(target.port) }).toEqual({ name, ...expected[name] });
      expect(simulator.depends_on?.provision?.condition).toBe('service_completed_successfully');
      expect(provisioned).toContain(`--out ${option(args, 'fleet')}`);
    }
  });

  it('mounts only files and folders that exist in the repository, and named volumes that are declared', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const { source } of service.volumes?.map(splitVolume) ?? []) {
        if (source.startsWith('.') || source.startsWith('/')) {
          expect(existsSync(join(repoRoot, source)), `${name} mounts ${source}`).toBe(true);
        } else {
          expect(Object.keys(compose.volumes ?? {}), `${name} mounts volume ${source}`).toContain(source);
        }
      }
    }
  });

  it('depends only on services that exist, and a service every profile runs never on one a profile adds', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) {
        expect(Object.keys(services), `${name} depends on ${dependency}`).toContain(dependency);
        if (service.profiles === undefined) expect(services[dependency]?.profiles, dependency).toBeUndefined();
      }
    }
  });

  it('checks the health of every long-running service; only the one-shot provision and the simulators go without', () => {
    const unchecked = Object.entries(services)
      .filter(([, service]) => service.healthcheck?.test === undefined)
      .map(([name]) => name);
    expect(unchecked.sort()).toEqual(['provision', 'simulator-broker', 'simulator-http', 'simulator-mqtt']);
    expect(services.provision?.restart).toBe('no');
    for (const [name, service] of Object.entries(services)) {
      const test = service.healthcheck?.test ?? ['CMD'];
      expect(test[0], name).toBe('CMD');
    }
  });

  it('has Prometheus scrape every node on the port it listens on, and HAProxy on its stats port', () => {
    interface ScrapeConfig {
      readonly job_name: string;
      readonly metrics_path?: string;
      readonly static_configs?: ReadonlyArray<{ targets: string[] }>;
      readonly dns_sd_configs?: ReadonlyArray<{ names: string[]; port: number }>;
    }
    const prometheus = services.prometheus;
    const configPath = repoPathAt(
      prometheus,
      (prometheus?.command ?? []).find((arg) => arg.startsWith('--config.file='))?.split('=')[1] ?? '',
    );
    expect(configPath).toBe('deploy/prometheus/prometheus.yml');
    const jobs = (parse(readRepoFile(configPath ?? '')) as { scrape_configs: ScrapeConfig[] }).scrape_configs;
    const targets = jobs.flatMap((job) => [
      ...(job.static_configs ?? []).flatMap((c) => c.targets.map((t) => `${job.metrics_path} ${t}`)),
      ...(job.dns_sd_configs ?? []).flatMap((c) => c.names.map((n) => `${job.metrics_path} ${n}:${c.port}`)),
    ]);
    const expected = [
      ...nodes.map(([name, node]) => `/metrics ${name}:${nodeConfig(node).httpPort}`),
      `/metrics haproxy:${haproxyBindPorts(haproxy.find((s) => s.kind === 'frontend' && s.name === 'stats') ?? { kind: '', name: '', lines: [] })[0]}`,
    ];
    expect(targets.sort()).toEqual(expected.sort());
    // A profile's nodes are found through DNS, so without the profile they are no target rather than one down.
    const subscriberJob = jobs.find((job) => job.dns_sd_configs !== undefined);
    expect(subscriberJob?.dns_sd_configs?.[0]?.names).toEqual(subscriberNodes.map(([name]) => name));
  });

  it("names in the README's stack section exactly the ports it publishes on the host", () => {
    const readme = readRepoFile('README.md');
    const start = readme.indexOf('## Run the production stack');
    expect(start).toBeGreaterThan(0);
    const stackSection = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const documented = new Set([...stackSection.matchAll(/localhost:(\d+)/g)].map((m) => Number(m[1])));
    const published = Object.values(services).flatMap((service) =>
      (service.ports ?? []).map((port) => Number(port.split(':')[0])),
    );
    expect([...documented].sort()).toEqual([...new Set(published)].sort());
  });

  it('builds every telemetry service from the repository Dockerfile, as one image', () => {
    const telemetry = Object.values(services).filter((s) => s.build !== undefined);
    expect(telemetry.length).toBe(nodes.length + 4); // the nodes, provision and three simulators
    expect(new Set(telemetry.map((s) => `${String(s.build)} ${s.image}`))).toEqual(
      new Set(['. telemetry-ingest:local']),
    );
  });
});

describe('Dockerfile', () => {
  const dockerfile = readRepoFile('Dockerfile');
  const packageJson = JSON.parse(readRepoFile('package.json')) as { bin: { telemetry: string } };

  it('copies every folder tsconfig.build.json compiles, so the image can run `telemetry simulate` too', () => {
    const { include } = JSON.parse(readRepoFile('tsconfig.build.json')) as { include: string[] };
    expect(include).toContain('simulator');
    for (const folder of include) expect(dockerfile).toMatch(new RegExp(`^COPY ${folder} ${folder}$`, 'm'));
  });

  it('runs the package bin, which is also `telemetry` on the PATH, as the compose services call it', () => {
    const bin = packageJson.bin.telemetry;
    expect(dockerfile).toContain(`ENTRYPOINT ["node", "${bin}"]`);
    expect(dockerfile).toContain(`ln -s /app/${bin} /usr/local/bin/telemetry`);
    expect(services.provision?.command?.join('\n')).toMatch(/^test -f \S+ \|\| telemetry simulate provision /m);
  });
});
