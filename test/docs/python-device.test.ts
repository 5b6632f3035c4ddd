import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { type DeviceAlgorithm, DeviceKeys, JwksRegistry } from '../../src/index.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { makeDevice, type TestDevice } from '../support/devices.js';

// Debian's python3 with python3-cryptography (installed by scripts/install-test-deps.sh).
const PYTHON = '/usr/bin/python3';
const DEVICE_SCRIPT = fileURLToPath(new URL('../../examples/python/device.py', import.meta.url));

let dir: string;
let store: DuckDbStore;
let node: IngestNode;
let url: string;
let registry = JwksRegistry.fromDocument({ keys: [] });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'python-device-'));
  store = await DuckDbStore.open({ path: ':memory:' });
  node = await buildIngest({
    config: parseConfig({ TELEMETRY_BATCH_MAX_WAIT_MS: '1' }),
    store,
    keys: new DeviceKeys({ registry: () => registry }),
  });
  await node.app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(node.app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await node.close(1000);
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function runDevice(device: TestDevice, values: string[]) {
  const keyFile = join(dir, `${device.id}.key.json`);
  await writeFile(keyFile, JSON.stringify(device.privateJwk));
  const args = [DEVICE_SCRIPT, '--key', keyFile, '--url', url, ...values.flatMap((v) => ['--value', v])];
  return promisify(execFile)(PYTHON, args).catch((error: { code?: unknown; stderr?: string }) => {
    throw new Error(`the Python device failed (${String(error.code)}): ${error.stderr ?? ''}`);
  });
}

describe('a device written in Python from docs/PROTOCOL.md alone', () => {
  it.each<DeviceAlgorithm>(['ES256', 'EdDSA'])('gets an %s-signed reading stored by the node', async (alg) => {
    const device = await makeDevice(`py-${alg.toLowerCase()}`, alg);
    registry = JwksRegistry.fromDocument({ keys: [device.publicJwk] });
    const { stdout } = await runDevice(device, ['temperature=21.5', 'rssi.dbm=-71']);
    expect(stdout).toMatch(/^200 \{"status":"accepted","device":"py-/);
    const page = await store.queryReadings({
      devices: [device.id],
      range: { start: 0, end: Date.now() + 60_000 },
      limit: 10,
    });
    expect(page.items.map((p) => [p.metric, p.value])).toEqual([
      ['rssi.dbm', -71],
      ['temperature', 21.5],
    ]);
  });
});
