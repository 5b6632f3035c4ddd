import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { DeviceKeys, signMessage } from '../../src/index.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';

let device: TestDevice;
let store: DuckDbStore;
let node: IngestNode;
let port: number;

beforeAll(async () => {
  device = await makeDevice('keepalive-1', 'EdDSA');
  store = await DuckDbStore.open({ path: ':memory:' });
  node = await buildIngest({
    config: parseConfig({ TELEMETRY_BATCH_MAX_WAIT_MS: '0' }),
    store,
    keys: new DeviceKeys({ registry: () => registryOf(device) }),
  });
  await node.app.listen({ host: '127.0.0.1', port: 0 });
  port = (node.app.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await node.close(1000);
  await store.close();
});

function post(agent: Agent, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/messages',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/jose' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTP keep-alive', () => {
  it('carries 2,000 requests over one connection', async () => {
    let connections = 0;
    node.app.server.on('connection', () => {
      connections++;
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const base = Date.now() - 10_000;
    const statuses = new Map<number, number>();
    for (let seq = 0; seq < 2_000; seq++) {
      const status = await post(agent, await signMessage(device.signer, seq, [{ ts: base + seq, values: { n: seq } }]));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    agent.destroy();
    expect(Object.fromEntries(statuses)).toEqual({ 200: 2_000 });
    expect(connections).toBe(1);
    const page = await store.queryReadings({
      devices: [device.id],
      range: { start: base, end: base + 2_000 },
      limit: 5_000,
    });
    expect(page.items).toHaveLength(2_000);
  }, 60_000);
});
