import { type ChildProcess, spawn } from 'node:child_process';
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from './poll-until.js';
import { freePort } from './server-process.js';

const HAPROXY = '/usr/sbin/haproxy';

/** One ingest node as the balancer sees it: its HTTP port and its embedded broker's TCP port, on 127.0.0.1. */
export interface BalancedNode {
  readonly name: string;
  readonly httpPort: number;
  readonly mqttPort: number;
}

/** What HAProxy counted for one server of a backend (its CSV stats). */
interface ServerStats {
  readonly backend: string;
  readonly server: string;
  /** UP, DOWN, … as the health checks last saw it. */
  readonly status: string;
  /** Sessions (HTTP requests or TCP connections) sent to it. */
  readonly sessions: number;
  /** Connection and L7 retries, and redispatches to another server, counted against it. */
  readonly retries: number;
  readonly redispatches: number;
}

/** A running HAProxy in front of ingest nodes: HTTP on one port, MQTT over TCP on another. */
export interface HaproxyServer {
  /** Base URL of the HTTP frontend, e.g. `http://127.0.0.1:40123`. */
  readonly httpUrl: string;
  /** URL of the MQTT (TCP) frontend, e.g. `mqtt://127.0.0.1:40124`. */
  readonly mqttUrl: string;
  /** The generated configuration, for failure messages and reports. */
  readonly config: string;
  /** The tail of what HAProxy printed (server UP/DOWN alerts). */
  output(): string;
  /** Per-server counters from the stats page. */
  stats(): Promise<ServerStats[]>;
  /** Stops HAProxy (SIGTERM: immediate, open connections are closed) and removes its folder. */
  stop(): Promise<void>;
}

/**
 * The configuration: round robin over the nodes for HTTP, least connections for MQTT, health checks every
 * 250 ms so a dead node is out within about half a second, and retries so the requests caught by a death are
 * sent to another node instead of failing.
 */
export function haproxyConfig(ports: { http: number; mqtt: number; stats: number }, nodes: readonly BalancedNode[]) {
  const servers = (port: (node: BalancedNode) => number, check: string) =>
    nodes.map((node) => `  server ${node.name} 127.0.0.1:${port(node)} ${check}`);
  return [
    'global',
    '  maxconn 4096',
    // L7 retries resend the request from HAProxy's buffer, so only requests that fit in it can be retried;
    // make it hold the largest message a node takes (64 KiB) with its headers.
    '  tune.bufsize 131072',
    '',
    'defaults',
    '  timeout connect 1s',
    '  timeout check 1s',
    // Devices keep MQTT connections open with a 60 s keepalive: idle timeouts must be longer than that.
    '  timeout client 90s',
    '  timeout server 90s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 30s',
    '  timeout queue 5s',
    // A retry goes to another server (redispatch on every retry), not to the one that just failed.
    '  retries 3',
    '  option redispatch 1',
    '',
    'frontend stats',
    '  mode http',
    `  bind 127.0.0.1:${ports.stats}`,
    '  stats enable',
    '  stats uri /stats',
    '',
    'frontend http',
    '  mode http',
    `  bind 127.0.0.1:${ports.http}`,
    '  option http-keep-alive',
    '  default_backend ingest_http',
    '',
    'backend ingest_http',
    '  mode http',
    '  balance roundrobin',
    '  option httpchk GET /readyz',
    '  http-check expect status 200',
    // POSTing a message again is safe: the same reading sent again is stored once (docs/PROTOCOL.md §8;
    // VictoriaMetrics with -dedup.minScrapeInterval=1ms).
    // That makes it safe to retry a POST whose fate is unknown too:
    // - conn-failure: the node is dead and its port refuses (before the checks notice);
    // - empty-response: the node died (or closed an idle kept-alive socket) after the request was sent;
    // - response-timeout: the node hangs. The request may have been stored; storing it again is harmless.
    // 5xx answers are not retried here: they carry the node's error code and Retry-After for the device.
    '  retry-on conn-failure empty-response response-timeout',
    '  timeout server 10s',
    '  default-server inter 250ms fall 2 rise 2',
    ...servers((node) => node.httpPort, 'check'),
    '',
    'frontend mqtt',
    '  mode tcp',
    `  bind 127.0.0.1:${ports.mqtt}`,
    '  default_backend ingest_mqtt',
    '',
    'backend ingest_mqtt',
    '  mode tcp',
    // A device stays on its node for the whole connection; new connections go where there are fewest, so the
    // devices of a dead node spread over the others and a node that comes back gets the next ones.
    '  balance leastconn',
    // A plain TCP connect check: the broker listens after the HTTP port, so /readyz does not prove it is up.
    // When a node is marked down, cut its devices' connections so they reconnect to a live node.
    '  default-server inter 250ms fall 2 rise 2 on-marked-down shutdown-sessions',
    ...servers((node) => node.mqttPort, 'check'),
    '',
  ].join('\n');
}

/** Parses HAProxy's CSV stats (`/stats;csv`) into one row per server. */
function parseStats(csv: string): ServerStats[] {
  const [header, ...rows] = csv.trim().split('\n');
  const columns = (header ?? '').replace(/^# /, '').split(',');
  const at = (cells: string[], name: string) => cells[columns.indexOf(name)] ?? '';
  return rows
    .map((row) => row.split(','))
    .filter((cells) => !['FRONTEND', 'BACKEND'].includes(at(cells, 'svname')))
    .map((cells) => ({
      backend: at(cells, 'pxname'),
      server: at(cells, 'svname'),
      status: at(cells, 'status'),
      sessions: Number(at(cells, 'stot') || 0),
      retries: Number(at(cells, 'wretr') || 0),
      redispatches: Number(at(cells, 'wredis') || 0),
    }));
}

/**
 * Starts `/usr/sbin/haproxy` (Debian package `haproxy`) in the foreground with a generated configuration in a
 * temporary folder, with HTTP and MQTT frontends on free loopback ports in front of `nodes`, and waits until
 * it answers.
 */
export async function startHaproxy(nodes: readonly BalancedNode[]): Promise<HaproxyServer> {
  try {
    await access(HAPROXY, constants.X_OK);
  } catch {
    throw new Error(`${HAPROXY} not found: install it with \`apt-get install -y haproxy\``);
  }
  const dir = await mkdtemp(join(tmpdir(), 'haproxy-test-'));
  const ports = { http: await freePort(), mqtt: await freePort(), stats: await freePort() };
  const config = haproxyConfig(ports, nodes);
  const configPath = join(dir, 'haproxy.cfg');
  await writeFile(configPath, config);
  const statsUrl = `http://127.0.0.1:${ports.stats}/stats;csv`;

  // -db: stay in the foreground, one process, so a signal to the child reaches HAProxy itself.
  const child: ChildProcess = spawn(HAPROXY, ['-db', '-f', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await pollUntil(async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited early:\n${output}`);
      return (await fetch(statsUrl)).ok;
    }, `haproxy to answer on port ${ports.stats}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    httpUrl: `http://127.0.0.1:${ports.http}`,
    mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    config,
    output: () => output,
    async stats() {
      return parseStats(await (await fetch(statsUrl)).text());
    },
    stop,
  };
}
