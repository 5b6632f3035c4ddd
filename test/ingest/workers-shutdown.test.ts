import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { signMessage } from '../../src/index.js';
import { VictoriaMetricsStore } from '../../src/store/victoria-metrics-store.js';
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

const SHUTDOWN_TIMEOUT_SECONDS = 10;

/** What one request got: a status and error code, or no answer at all (connection refused or reset). */
type Answer = { status: number; code?: string } | { failed: string };

describe('SIGTERM with TELEMETRY_WORKERS=2 under load', () => {
  it('drains each worker, which exits by itself well before the deadline, and loses nothing acknowledged', async () => {
    dir = await mkdtemp(join(tmpdir(), 'workers-drain-'));
    vm = await startVictoriaMetrics();
    const device = await makeDevice('drain-dev', 'EdDSA');
    await writeFile(join(dir, 'registry.json'), JSON.stringify({ keys: [device.publicJwk] }));
    node = await startServe({
      cwd: dir,
      env: {
        TELEMETRY_WORKERS: '2',
        TELEMETRY_MQTT: 'off',
        TELEMETRY_KEY_REGISTRY: join(dir, 'registry.json'),
        TELEMETRY_STORE: 'victoriametrics',
        TELEMETRY_INFLUX_URL: vm.url,
        TELEMETRY_SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
      },
    });
    const running = node;
    await pollUntil(
      async () => (running.output().match(/ingest node listening/g) ?? []).length === 2,
      'two workers listening',
      90_000,
    );

    const base = Date.now() - 60_000;
    const acknowledged: number[] = [];
    const answers: Answer[] = [];
    let next = 0;
    let exited = false;
    const send = async (seq: number): Promise<void> => {
      const body = await signMessage(device.signer, seq, [{ ts: base + seq, values: { n: seq } }]);
      try {
        const response = await fetch(`${running.httpUrl}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/jose', connection: 'close' },
          body,
        });
        const answer = (await response.json()) as { error?: { code: string } };
        answers.push({ status: response.status, ...(answer.error ? { code: answer.error.code } : {}) });
        if (response.status === 200) acknowledged.push(seq);
      } catch (error) {
        answers.push({ failed: String((error as { cause?: { code?: string } }).cause?.code ?? error) });
      }
    };
    // Eight senders, each sending its next message once the last is answered, until the node has exited.
    const senders = Array.from({ length: 8 }, async () => {
      while (!exited) await send(next++);
    });
    await pollUntil(async () => acknowledged.length >= 200, '200 acknowledged messages', 60_000);

    const signalled = Date.now();
    running.child.kill('SIGTERM');
    const code = await running.exited;
    const exitSeconds = (Date.now() - signalled) / 1000;
    exited = true;
    await Promise.all(senders);
    node = undefined;

    expect(code).toBe(0);
    // Well within the drain deadline: nothing waited for it, and the primary killed no worker.
    expect(exitSeconds).toBeLessThan(SHUTDOWN_TIMEOUT_SECONDS);
    expect(running.output()).not.toMatch(/killing them|SIGKILL/);
    // Each worker logged its own drain and exit; none was replaced.
    expect(running.output()).not.toMatch(/starting another/);
    // Racing the shutdown, a request is stored, refused with ERR_SHUTTING_DOWN, or finds no node: never a 5xx of another kind.
    for (const answer of answers) {
      if ('failed' in answer) continue;
      if (answer.status === 200) continue;
      expect(answer).toEqual({ status: 503, code: 'ERR_SHUTTING_DOWN' });
    }

    await vm.flush();
    const store = new VictoriaMetricsStore({ url: vm.url, api: 'v2', org: '', bucket: 'telemetry', timeoutMs: 5000 });
    const page = await store.queryReadings({
      devices: [device.id],
      range: { start: base, end: base + next + 1 },
      limit: 10_000,
    });
    const stored = new Set(page.items.map((item) => item.ts - base));
    expect(acknowledged.filter((seq) => !stored.has(seq))).toEqual([]);
    await store.close();
  }, 240_000);
});
