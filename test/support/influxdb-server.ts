import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, runServerProcess, type TestServer } from './server-process.js';
/** A running InfluxDB 1.x with one database created. */
export interface InfluxDbServer extends TestServer {
  readonly database: string;
  /** Headers that authenticate as the admin user, when the server was started with `admin`; none otherwise. */
  readonly adminHeaders: Readonly<Record<string, string>>;
}

/** A user to create as the first admin, turning on the server's HTTP authentication. */
export interface InfluxDbAdmin {
  readonly username: string;
  readonly password: string;
}

/**
 * Starts `influxd` (Debian package `influxdb`, 1.6.7) on free loopback ports with a generated config and a
 * temporary data folder, waits for `/ping` and creates `database`. With `admin`, HTTP authentication is on and
 * that user is created first (InfluxDB 1.x lets anyone create the first admin user).
 */
export async function startInfluxDb(database = 'telemetry', admin?: InfluxDbAdmin): Promise<InfluxDbServer> {
  const binary = await requireBinary('influxd', 'influxdb');
  const dataDir = await mkdtemp(join(tmpdir(), 'influxdb-test-'));
  const [httpPort, rpcPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${httpPort}`;
  const config = [
    'reporting-disabled = true',
    `bind-address = "127.0.0.1:${rpcPort}"`,
    '[meta]',
    `  dir = "${join(dataDir, 'meta')}"`,
    '[data]',
    `  dir = "${join(dataDir, 'data')}"`,
    `  wal-dir = "${join(dataDir, 'wal')}"`,
    '  query-log-enabled = false',
    '[monitor]',
    '  store-enabled = false',
    '[http]',
    `  bind-address = "127.0.0.1:${httpPort}"`,
    '  log-enabled = false',
    `  auth-enabled = ${admin !== undefined}`,
    '[continuous_queries]',
    '  enabled = false',
    '',
  ].join('\n');
  const configPath = join(dataDir, 'influxdb.conf');
  await writeFile(configPath, config);
  const server = await runServerProcess({
    binary,
    args: ['run', '-config', configPath],
    url,
    dataDir,
    ready: async () => (await fetch(`${url}/ping`)).status === 204,
  });
  const adminHeaders: Record<string, string> =
    admin === undefined
      ? {}
      : { authorization: `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString('base64')}` };
  const statements = [
    ...(admin === undefined
      ? []
      : [`CREATE USER "${admin.username}" WITH PASSWORD '${admin.password}' WITH ALL PRIVILEGES`]),
    `CREATE DATABASE "${database}"`,
  ];
  try {
    for (const q of statements) {
      const body = new URLSearchParams({ q });
      const response = await fetch(`${url}/query`, { method: 'POST', body, headers: adminHeaders });
      if (!response.ok) throw new Error(`${q.split(' ', 2).join(' ')} failed: HTTP ${response.status}`);
    }
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { ...server, database, adminHeaders };
}
