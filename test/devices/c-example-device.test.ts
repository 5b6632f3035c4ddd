import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeviceAlgorithm, generateKey, issueOperatorToken } from '../../src/index.js';
import { makeDevice, type TestDevice } from '../support/devices.js';
import { startMosquitto } from '../support/mosquitto-server.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';
import { buildC, type CBuild, program, programExit } from './c-build.js';

// devices/c/examples/linux/device_demo.c: a device on the C library, HTTP through libcurl, MQTT through libmosquitto.
let c: CBuild;

beforeAll(async () => {
  c = await buildC(['device_demo']);
}, 240_000);

afterAll(async () => {
  await c?.remove();
});

const text = (part: string) => Buffer.from(part, 'base64url').toString('utf8');

type Transport = 'http' | 'mqtt';
type Shape = 'single' | 'batch';
const RUNS: Array<[DeviceAlgorithm, Transport, Shape]> = [];
for (const alg of ['ES256', 'EdDSA'] as const) {
  for (const transport of ['http', 'mqtt'] as const) {
    for (const shape of ['single', 'batch'] as const) RUNS.push([alg, transport, shape]);
  }
}
const deviceId = (alg: string, transport: string, shape: string) => `c-${alg.toLowerCase()}-${transport}-${shape}`;

describe('the Linux example device (devices/c/examples/linux) against a real telemetry serve node', () => {
  let dir: string;
  let node: ServeProcess;
  let mqttAddress: string;
  let operatorToken: string;
  const devices = new Map<string, TestDevice>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'c-device-'));
    for (const [alg, transport, shape] of RUNS) {
      const id = deviceId(alg, transport, shape);
      devices.set(id, await makeDevice(id, alg));
    }
    const operators = await generateKey('ES256', 'operators.k1');
    await writeFile(
      join(dir, 'registry.jwks.json'),
      JSON.stringify({ keys: [...devices.values()].map((d) => d.publicJwk) }),
    );
    await writeFile(join(dir, 'operators.jwks.json'), JSON.stringify({ keys: [operators.publicJwk] }));
    operatorToken = await issueOperatorToken({
      issuerKey: operators.privateJwk,
      subject: 'c-library-test',
      scope: 'read',
      lifetimeSeconds: 3600,
      now: Date.now(),
    });
    // The embedded defaults: DuckDB store in the data folder, embedded MQTT broker.
    node = await startServe({
      cwd: dir,
      env: {
        TELEMETRY_MQTT_PORT: '0',
        TELEMETRY_DATA_DIR: join(dir, 'data'),
        TELEMETRY_KEY_REGISTRY: join(dir, 'registry.jwks.json'),
        TELEMETRY_OPERATOR_ISSUERS: join(dir, 'operators.jwks.json'),
        TELEMETRY_BATCH_MAX_WAIT_MS: '1',
        TELEMETRY_LOG_LEVEL: 'warn',
      },
    });
    const mqtt = /mqtt: mqtt:\/\/([\d.]+:\d+)/.exec(node.output())?.[1];
    if (mqtt === undefined) throw new Error(`the node does not say where its broker listens:\n${node.output()}`);
    mqttAddress = mqtt;
  }, 120_000);

  afterAll(async () => {
    await node?.stop('SIGTERM');
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function storedReadings(device: string, from: number) {
    const url = `${node.httpUrl}/v1/query/readings?device=${device}&from=${from}&to=${from + 3_600_000}&limit=1000`;
    const response = await fetch(url, { headers: { authorization: `Bearer ${operatorToken}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { items: Array<{ metric: string; ts: number; value: number }> };
    return body.items.map((item) => [item.metric, item.ts, item.value]);
  }

  it.each(RUNS)(
    'stores %s readings sent over %s (%s messages) once, though every message is sent twice',
    async (alg, transport, shape) => {
      const device = devices.get(deviceId(alg, transport, shape)) as TestDevice;
      const readings = 6;
      const ts = Date.now() - 600_000;
      // The one end-to-end run under the sanitizers: the library inside a real client, with libcurl.
      const asan = alg === 'EdDSA' && transport === 'http' && shape === 'batch';
      const stdout = await program(
        join(asan ? c.sanitized : c.dir, 'device_demo'),
        [
          '--device',
          device.id,
          '--kid',
          String(device.privateJwk.kid),
          '--alg',
          alg,
          '--d',
          String(device.privateJwk.d),
          ...(transport === 'http' ? ['--http', node.httpUrl] : ['--mqtt', mqttAddress]),
          ...(shape === 'batch' ? ['--batch', '--per-message', '4'] : []),
          '--readings',
          String(readings),
          '--ts',
          String(ts),
          '--seq-file',
          join(dir, `${device.id}.seq`),
          '--twice',
        ],
        { ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1', UBSAN_OPTIONS: 'halt_on_error=1' },
      );
      // Over MQTT, delivered means the node's acknowledgement on devices/{device}/acks (PROTOCOL.md §10.3).
      if (transport === 'mqtt') expect(stdout).toContain('acks subscription granted');
      const messageCount = shape === 'batch' ? 2 : readings;
      expect(stdout).toContain(
        `messages ${messageCount * 2}, stored ${messageCount * 2}, dropped 0, evicted 0, pending 0`,
      );
      const expected: Array<[string, number, number]> = [];
      for (let i = 0; i < readings; i++) expected.push(['rssi.dbm', ts + i * 1000, -70 - i]);
      for (let i = 0; i < readings; i++) expected.push(['temperature', ts + i * 1000, 20 + i * 0.1]);
      expect(await storedReadings(device.id, ts)).toEqual(expected);
    },
    90_000,
  );
});

describe('the Linux example device over a broker that acknowledges end to end', () => {
  it('counts a message delivered only when an ack names its seq, resends on silence and after retryAfter, and drops on a final notice', async () => {
    const broker = await startMosquitto();
    const standIn = await connectAsync(broker.url, { clientId: `stand-in-node-${process.pid}`, reconnectPeriod: 0 });
    try {
      // A stand-in for a node: it answers each message on the device's acks or errors topic, as PROTOCOL.md says.
      const arrivals = new Map<number, number>();
      standIn.on('message', (topic, payload) => {
        const device = topic.split('/')[1];
        const { seq } = JSON.parse(text(payload.toString().split('.')[1] ?? '')) as { seq: number };
        const times = (arrivals.get(seq) ?? 0) + 1;
        arrivals.set(seq, times);
        const reply = (kind: 'acks' | 'errors', body: object) =>
          standIn.publish(`devices/${device}/${kind}`, JSON.stringify(body));
        if (seq === 0 && times === 1) return; // lost on the way: neither ack nor notice
        if (seq === 1 && times === 1) {
          reply('errors', { seq, code: 'ERR_OVERLOADED', message: 'busy', retryable: true, retryAfter: 1 });
          return;
        }
        if (seq === 2) {
          reply('errors', { seq, code: 'ERR_TIMESTAMP_UNIT', message: 'seconds?', retryable: false });
          return;
        }
        if (seq === 3) return; // acknowledged with 4, in one ack, out of order and repeated
        reply('acks', { seqs: seq === 4 ? [4, 3, 4] : [seq] });
      });
      await standIn.subscribeAsync('devices/+/messages', { qos: 1 });
      const device = await makeDevice('c-acks', 'EdDSA');
      const { code, stdout } = await programExit(join(c.dir, 'device_demo'), [
        '--device',
        device.id,
        '--kid',
        String(device.privateJwk.kid),
        '--alg',
        'EdDSA',
        '--d',
        String(device.privateJwk.d),
        '--mqtt',
        broker.url.replace('mqtt://', ''),
        '--readings',
        '5',
        '--ack-timeout',
        '3000',
      ]);
      expect(stdout).toContain('acks subscription granted');
      expect(stdout).toContain('dropped seq 2: ERR_TIMESTAMP_UNIT');
      expect(stdout).toContain('messages 5, stored 4, dropped 1, evicted 0, pending 0');
      expect(code).toBe(1); // something was dropped
      // The broker's PUBACK for seq 0 did not count: without an ack it was published again, the same bytes.
      expect(arrivals.get(0)).toBeGreaterThanOrEqual(2);
      expect(arrivals.get(1)).toBe(2);
      expect(arrivals.get(2)).toBe(1);
      expect(arrivals.get(4)).toBe(1);
    } finally {
      await standIn.endAsync(true);
      await broker.stop();
    }
  }, 60_000);
});
