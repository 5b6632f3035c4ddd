import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { signMessage } from '../../src/index.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import { pollUntil } from '../support/poll-until.js';
import { startWorkerNode, useWorkerNodes } from './workers-support.js';

useWorkerNodes();

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

/** Whether process `pid` has DuckDB's native library mapped (proc(5): /proc/<pid>/maps names each mapped file). */
function loadsDuckDb(pid: number): boolean {
  return readFileSync(`/proc/${pid}/maps`, 'utf8').includes('duckdb');
}

describe('TELEMETRY_WORKERS', () => {
  it('runs that many processes on one port, replaces one that dies, and stops them all on SIGTERM', async () => {
    const { node, vm, device } = await startWorkerNode(
      'worker-dev',
      (url) => ({ TELEMETRY_STORE: 'influxdb', TELEMETRY_INFLUX_URL: url, TELEMETRY_INFLUX_QUERY: 'victoriametrics' }),
      { TELEMETRY_MQTT_PORT: '0' },
    );
    const live = () => listeningWorkers(node.output()).filter(isAlive);
    await pollUntil(async () => live().length === 2, 'two workers listening', 90_000);
    const before = live();

    const base = Date.now() - 60_000;
    const send = async (seq: number) => {
      const body = await signMessage(device.signer, seq, [{ ts: base + seq, values: { n: seq } }]);
      // A fresh connection each time, so the primary hands them out across the workers.
      const response = await fetch(`${node.httpUrl}/v1/messages`, {
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
  }, 240_000);

  it('on VictoriaMetrics, loads DuckDB in neither the primary nor a worker', async () => {
    const { node } = await startWorkerNode(
      'worker-lean',
      (url) => ({ TELEMETRY_STORE: 'victoriametrics', TELEMETRY_INFLUX_URL: url }),
      { TELEMETRY_MQTT_PORT: '0' },
    );
    const live = () => listeningWorkers(node.output()).filter(isAlive);
    await pollUntil(async () => live().length === 2, 'two workers listening', 90_000);
    const pids = [node.child.pid as number, ...live()];
    expect(pids.map(loadsDuckDb)).toEqual([false, false, false]);
  }, 120_000);
});
