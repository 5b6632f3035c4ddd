/**
 * What one write to an InfluxDB-compatible store costs the node beyond the store's own work (docs/STORAGE.md,
 * "Writes over HTTP"): `InfluxHttp.postLines` (a plain node:http POST, what the store adapters use) against the
 * influxdb-client transport's `request` (what they used before), each writing `--writes` batches of 20 lines
 * one after another to a VictoriaMetrics started on loopback. Each runs in a child process with
 * `--trace-gc-nvp`; reported per write: CPU of the process, and the bytes that survived a scavenge and the bytes
 * promoted into the old generation (objects kept past the young generation, which every scavenge copies first).
 * Run twice each, alternating.
 *
 *   npx tsx bench/store-write-gc.ts [--writes 6000]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InfluxDB } from '@influxdata/influxdb-client';
import { InfluxHttp } from '../src/store/influx-http.js';
import { startVictoriaMetrics } from '../test/support/victoria-metrics-server.js';

const args = process.argv.slice(2);
const option = (name: string) => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
};
const writes = Number(option('--writes') ?? 6_000);
const PATH = '/api/v2/write?org=&bucket=telemetry&precision=ms';
const MARK = 'WRITES_START';

/** In a child: writes with `client`, printing MARK before the first and a JSON line of CPU per write after. */
async function measure(client: string): Promise<void> {
  const server = await startVictoriaMetrics();
  const http = new InfluxHttp({ url: server.url, timeoutMs: 10_000 });
  const transport = new InfluxDB({ url: server.url, timeout: 10_000 }).transport;
  const write =
    client === 'postLines'
      ? (body: string) => http.postLines(PATH, body)
      : (body: string) => transport.request(PATH, body, { method: 'POST', headers: { 'content-type': 'text/plain' } });
  let ts = Date.now() - 3_600_000;
  const batch = () =>
    Array.from({ length: 20 }, (_, i) => `telemetry,device=dev-${i} temperature=${20 + (ts % 7)} ${ts++}`).join('\n');
  for (let i = 0; i < 200; i++) await write(batch());
  process.stdout.write(`${MARK}\n`);
  const start = process.cpuUsage();
  for (let i = 0; i < writes; i++) await write(batch());
  const cpu = process.cpuUsage(start);
  process.stdout.write(`${JSON.stringify({ cpuUsPerWrite: (cpu.user + cpu.system) / writes })}\n`);
  http.close();
  await server.stop();
}

/** Sums a field of the scavenge lines (`gc=s`) that --trace-gc-nvp printed after MARK. */
function scavengeTotal(output: string, field: string): number {
  const after = output.slice(output.indexOf(MARK));
  let total = 0;
  for (const line of after.split('\n')) {
    if (!line.includes('gc=s ')) continue;
    const value = new RegExp(`\\b${field}=([0-9.]+)`).exec(line)?.[1];
    total += Number(value ?? 0);
  }
  return total;
}

async function main(): Promise<void> {
  const client = option('--client');
  if (client !== undefined) return measure(client);
  const rows: Record<string, string | number>[] = [];
  for (const round of [1, 2]) {
    for (const name of ['transport.request', 'postLines']) {
      const output = execFileSync(
        process.execPath,
        [
          '--trace-gc-nvp',
          ...process.execArgv,
          fileURLToPath(import.meta.url),
          '--client',
          name,
          '--writes',
          String(writes),
        ],
        { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
      );
      const last = output.trim().split('\n').at(-1) ?? '{}';
      const { cpuUsPerWrite } = JSON.parse(last) as { cpuUsPerWrite: number };
      rows.push({
        round,
        client: name,
        cpuUsPerWrite: Math.round(cpuUsPerWrite),
        survivedBytesPerWrite: Math.round(scavengeTotal(output, 'new_space_survived') / writes),
        promotedBytesPerWrite: Math.round(scavengeTotal(output, 'promoted') / writes),
        scavengePauseMs: Math.round(scavengeTotal(output, 'pause')),
      });
    }
  }
  console.log(`${writes} writes of 20 lines each to VictoriaMetrics on loopback, one after another`);
  console.table(rows);
}

await main();
