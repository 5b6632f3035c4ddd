import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { signMessage } from '../../src/index.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { makeDevice } from '../support/devices.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';

let dir: string;
let node: ServeProcess | undefined;

afterEach(async () => {
  await node?.stop('SIGKILL');
  node = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('a node receiving SIGTERM under load', () => {
  it('exits cleanly, and every reading it acknowledged is in the store exactly once', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sigterm-'));
    const devices = await Promise.all(
      Array.from({ length: 8 }, (_, i) => makeDevice(`dev-${i}`, i % 2 ? 'EdDSA' : 'ES256')),
    );
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'data', 'registry.jwks.json'), JSON.stringify({ keys: devices.map((d) => d.publicJwk) }));
    node = await startServe({ cwd: dir, env: { TELEMETRY_MQTT: 'off', TELEMETRY_BATCH_MAX_WAIT_MS: '20' } });
    const url = `${node.httpUrl}/v1/messages`;
    const base = Date.now() - 60_000;

    const acknowledged: Array<{ device: string; ts: number }> = [];
    const refusals = new Map<string, number>();
    let signalled = false;
    const running = node;
    // Each device sends one message at a time, as a device waiting for its acknowledgement would.
    const loops = devices.map(async (device) => {
      for (let seq = 0; seq < 2_000; seq++) {
        const ts = base + seq;
        const body = await signMessage(device.signer, seq, [{ ts, values: { counter: seq } }]);
        try {
          const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/jose' }, body });
          if (response.status === 200) acknowledged.push({ device: device.id, ts });
          else {
            const { error } = (await response.json()) as { error: { code: string } };
            refusals.set(error.code, (refusals.get(error.code) ?? 0) + 1);
          }
        } catch (error) {
          if (signalled) return; // the node is gone: a real device would retry elsewhere
          throw new Error(
            `request failed before the signal: ${String((error as Error).cause ?? error)}\n${running.output()}`,
          );
        }
        if (acknowledged.length >= 200 && !signalled) {
          signalled = true;
          running.child.kill('SIGTERM');
        }
      }
    });
    await Promise.all(loops);
    const exitCode = await running.exited;
    node = undefined;
    expect(signalled).toBe(true);
    expect(exitCode).toBe(0);
    for (const code of refusals.keys()) expect(code).toBe('ERR_SHUTTING_DOWN');

    const store = await DuckDbStore.open({ path: join(dir, 'data', 'telemetry.duckdb') });
    try {
      const stored = new Set<string>();
      for (const device of devices) {
        let cursor: string | undefined;
        do {
          const page = await store.queryReadings({
            devices: [device.id],
            range: { start: base, end: base + 10_000 },
            limit: 1_000,
            ...(cursor === undefined ? {} : { cursor }),
          });
          for (const p of page.items) {
            const key = `${p.device}@${p.ts}`;
            expect(stored.has(key)).toBe(false);
            expect(p.value).toBe(p.ts - base);
            stored.add(key);
          }
          cursor = page.nextCursor;
        } while (cursor !== undefined);
      }
      const missing = acknowledged.filter((a) => !stored.has(`${a.device}@${a.ts}`));
      expect(missing).toEqual([]);
      expect(stored.size).toBeGreaterThanOrEqual(acknowledged.length);
    } finally {
      await store.close();
    }
  }, 120_000);
});
