import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, runServerProcess, type TestServer } from './server-process.js';
/** A running InfluxDB 1.x with one database created. */
export interface InfluxDbServer extends TestServer {
  readonly database: string;
}

/**
 * Starts `influxd` (Debian package `influxdb`, 1.6.7) on free loopback ports with a generated config and a
 * temporary data folder, waits for `/ping` and creates `database`.
 */
export async function startInfluxDb(database = 'telemetry'): Promise<InfluxDbServer> {
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
  try {
    const body = new URLSearchParams({ q: `CREATE DATABASE "${database}"` });
    const response = await fetch(`${url}/query`, { method: 'POST', body });
    if (!response.ok) throw new Error(`CREATE DATABASE failed: HTTP ${response.status}`);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { ...server, database };
}
