import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { type ServeProcess, startServe, telemetry } from '../support/serve-process.js';

let dir: string;
let node: ServeProcess | undefined;

afterEach(async () => {
  await node?.stop('SIGKILL');
  node = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe("the README's first signed reading", () => {
  it('works as written: generate a key, start the node, sign, POST, and the reading is stored on disk', async () => {
    dir = await mkdtemp(join(tmpdir(), 'readme-'));
    await telemetry(['keys', 'generate', '--device', 'boiler-7', '--registry', 'data/registry.jwks.json'], {
      cwd: dir,
    });
    node = await startServe({ cwd: dir, env: { TELEMETRY_MQTT_PORT: '0' } });

    const { stdout: message } = await telemetry(
      ['keys', 'sign', '--key', 'keys/boiler-7.key.json', '--value', 'temperature=21.5', '--value', 'pressure=1.02'],
      { cwd: dir },
    );
    const response = await fetch(`${node.httpUrl}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/jose' },
      body: message,
    });
    expect(response.status).toBe(200);
    const accepted = (await response.json()) as { status: string; device: string; readings: number };
    expect(accepted).toMatchObject({ status: 'accepted', device: 'boiler-7', readings: 1 });

    expect(await node.stop('SIGTERM')).toBe(0);
    node = undefined;
    const store = await DuckDbStore.open({ path: join(dir, 'data', 'telemetry.duckdb') });
    try {
      const page = await store.queryReadings({
        devices: ['boiler-7'],
        range: { start: 0, end: Date.now() + 60_000 },
        limit: 10,
      });
      expect(page.items.map((p) => [p.metric, p.value])).toEqual([
        ['pressure', 1.02],
        ['temperature', 21.5],
      ]);
    } finally {
      await store.close();
    }
  });
});
