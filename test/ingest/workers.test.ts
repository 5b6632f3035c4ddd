import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { signMessage } from '../../src/index.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import { makeDevice } from '../support/devices.js';
import { pollUntil } from '../support/poll-until.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';
import { startVictoriaMetrics, type VictoriaMetricsServer } from '../support/victoria-metrics-server.js';

let dir: string | undefined;
let node: ServeProcess | undefined;
let vm: VictoriaMetricsServer | undefined;

afterEach(async () => {
  await node?.stop('SIGKILL');
  node = undefined;
  await vm?.stop();
  vm = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** The pids of the workers that said they listen, from their log lines, in order. */
function listeningWorkers(output: string): number[] {
  return [...output.matchAll(/"pid":(\d+),[^\n]*"msg":"ingest node listening"/g)].map((m) => Number(m[1]));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('TELEMETRY_WORKERS', () => {
  it('runs that many processes on one port, replaces one that dies, and stops them all on SIGTERM', async () => {
    dir = await mkdtemp(join(tmpdir(), 'workers-'));
    vm = await startVictoriaMetrics();
    const device = await makeDevice('worker-dev', 'EdDSA');
    await writeFile(join(dir, 'registry.json'), JSON.stringify({ keys: [device.publicJwk] }));
    node = await startServe({
      cwd: dir,
      env: {
        TELEMETRY_WORKERS: '2',
        TELEMETRY_MQTT_PORT: '0',
        TELEMETRY_KEY_REGISTRY: join(dir, 'registry.json'),
        TELEMETRY_STORE: 'influxdb',
        TELEMETRY_INFLUX_URL: vm.url,
        TELEMETRY_INFLUX_QUERY: 'victoriametrics',
      },
    });
    const running = node;
    const live = () => listeningWorkers(running.output()).filter(isAlive);
    await pollUntil(async () => live().length === 2, 'two workers listening', 90_000);
    const before = live();

    const base = Date.now() - 60_000;
    const send = async (seq: number) => {
      const body = await signMessage(device.signer, seq, [{ ts: base + seq, values: { n: seq } }]);
      // A fresh connection each time, so the primary hands them out across the workers.
      const response = await fetch(`${node?.httpUrl}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/jose', connection: 'close' },
        body,
      });
      return response.status;
    };
    const first = await Promise.all(Array.from({ length: 40 }, (_, i) => send(i)));
    expect(first.every((status) => status === 200)).toBe(true);

    const victim = before[0] as number;
    process.kill(victim, 'SIGKILL');
    await pollUntil(async () => live().length === 2 && !live().includes(victim), 'a replacement worker', 90_000);
    const second = await Promise.all(Array.from({ length: 40 }, (_, i) => send(100 + i)));
    expect(second.every((status) => status === 200)).toBe(true);

    const store = new InfluxStore({
      url: vm.url,
      api: 'v2',
      org: '',
      bucket: 'telemetry',
      timeoutMs: 5000,
      queryMode: 'victoriametrics',
    });
    await vm.flush();
    const page = await store.queryReadings({
      devices: [device.id],
      range: { start: base, end: base + 1000 },
      limit: 1000,
    });
    expect(page.items).toHaveLength(80);

    const workers = live();
    expect(await node.stop('SIGTERM')).toBe(0);
    // The primary exits only after its workers have.
    expect(workers.filter(isAlive)).toEqual([]);
    node = undefined;
  }, 240_000);
});
