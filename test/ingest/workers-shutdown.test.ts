import { describe, expect, it } from 'vitest';
import { signMessage } from '../../src/index.js';
import { VictoriaMetricsStore } from '../../src/store/victoria-metrics-store.js';
import { pollUntil } from '../support/poll-until.js';
import { startWorkerNode, useWorkerNodes } from './workers-support.js';

useWorkerNodes();

const SHUTDOWN_TIMEOUT_SECONDS = 10;

/** What one request got: a status and error code, or no answer at all (connection refused or reset). */
type Answer = { status: number; code?: string } | { failed: string };

describe('SIGTERM with TELEMETRY_WORKERS=2 under load', () => {
  it('drains each worker, which exits by itself well before the deadline, and loses nothing acknowledged', async () => {
    const { node, vm, device } = await startWorkerNode(
      'drain-dev',
      (url) => ({ TELEMETRY_STORE: 'victoriametrics', TELEMETRY_INFLUX_URL: url }),
      { TELEMETRY_MQTT: 'off', TELEMETRY_SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS) },
    );
    await pollUntil(
      // Each worker writes one JSON line when it listens (stdout); the human lines on stderr say it too, so count only those.
      async () => (node.stdout().match(/"msg":"ingest node listening"/g) ?? []).length >= 2,
      'two workers listening',
      90_000,
      () => node.output(),
    );

    const base = Date.now() - 60_000;
    const acknowledged: number[] = [];
    const answers: Answer[] = [];
    let next = 0;
    let exited = false;
    const send = async (seq: number): Promise<void> => {
      const body = await signMessage(device.signer, seq, [{ ts: base + seq, values: { n: seq } }]);
      try {
        const response = await fetch(`${node.httpUrl}/v1/messages`, {
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
    node.child.kill('SIGTERM');
    const code = await node.exited;
    const exitSeconds = (Date.now() - signalled) / 1000;
    exited = true;
    await Promise.all(senders);

    expect(code).toBe(0);
    // Well within the drain deadline: nothing waited for it, and the primary killed no worker.
    expect(exitSeconds).toBeLessThan(SHUTDOWN_TIMEOUT_SECONDS);
    expect(node.output()).not.toMatch(/killing them|SIGKILL/);
    // Each worker logged its own drain and exit; none was replaced.
    expect(node.output()).not.toMatch(/starting another/);
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
