import { Writable } from 'node:stream';
import { connectAsync } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../ingest/mqtt/embedded-broker.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { DeviceKeys, messagesTopic, signConnectionToken, signMessage } from '../../src/index.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';

let lines = '';
let device: TestDevice;
let store: DuckDbStore;
let node: IngestNode;
let broker: EmbeddedBroker;

beforeAll(async () => {
  device = await makeDevice('loggy-1');
  store = await DuckDbStore.open({ path: ':memory:' });
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines += chunk.toString();
        done();
      },
    }),
  );
  const keys = new DeviceKeys({ registry: () => registryOf(device) });
  node = await buildIngest({ config: parseConfig({ TELEMETRY_BATCH_MAX_WAIT_MS: '1' }), store, keys, logger });
  broker = await startEmbeddedBroker(node, {
    keys,
    host: '127.0.0.1',
    port: 0,
    tokenAudience: 'telemetry-ingest',
    maxTokenLifetimeSeconds: 3600,
    clockSkewSeconds: 60,
    logger,
  });
});

afterAll(async () => {
  await broker.close();
  await node.close(1000);
  await store.close();
});

describe('logs', () => {
  it('name the device, the transport and the code of a failure, and never hold a token, a signature or a payload', async () => {
    const now = Date.now();
    const message = await signMessage(device.signer, 1, [{ ts: now - 10, values: { secret_value: 123.456 } }]);
    const tampered = `${message.slice(0, -6)}AAAAAA`;
    await node.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { 'content-type': 'application/jose' },
      payload: tampered,
    });

    // Verified, then refused for its payload: the log names the device and the code, not the reading.
    const stale = await signMessage(device.signer, 2, [
      { ts: now - 400 * 86_400_000, values: { secret_value: 654.321 } },
    ]);
    await node.app.inject({
      method: 'POST',
      url: '/v1/messages/batch',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ messages: [stale, tampered] }),
    });

    const token = await signConnectionToken(device.signer, { now, lifetimeSeconds: 600, audience: 'someone-else' });
    await connectAsync(`mqtt://127.0.0.1:${broker.tcpPort}`, {
      username: device.id,
      password: token,
      reconnectPeriod: 0,
      protocolVersion: 4,
    }).catch(() => undefined);
    const good = await signConnectionToken(device.signer, { now, lifetimeSeconds: 600 });
    const client = await connectAsync(`mqtt://127.0.0.1:${broker.tcpPort}`, {
      username: device.id,
      password: good,
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    await client.publishAsync(messagesTopic(device.id), tampered, { qos: 1 });
    await client.endAsync();

    expect(lines).toContain('ERR_SIGNATURE_INVALID');
    expect(lines).toContain('ERR_TOKEN_INVALID');
    expect(lines).toContain(device.id);
    const parsed = lines
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed).toContainEqual(
      expect.objectContaining({ msg: 'http message rejected', code: 'ERR_SIGNATURE_INVALID', transport: 'http' }),
    );
    expect(parsed).toContainEqual(
      expect.objectContaining({
        msg: 'http message rejected',
        code: 'ERR_TIMESTAMP_OUT_OF_RANGE',
        transport: 'http',
        device: device.id,
      }),
    );
    expect(parsed).toContainEqual(
      expect.objectContaining({ msg: 'mqtt connection refused', code: 'ERR_TOKEN_INVALID', transport: 'mqtt' }),
    );
    for (const secret of [
      stale,
      stale.split('.')[1],
      '654.321',
      message.split('.')[1],
      message.split('.')[2],
      tampered,
      token,
      good,
      token.split('.')[2],
      '123.456',
    ]) {
      expect(lines).not.toContain(secret);
    }
  });
});
