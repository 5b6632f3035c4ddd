/**
 * Shared setup of the embedded-broker suites (mqtt-embedded-*.test.ts): a node on an in-memory store behind a
 * HeldStore, the embedded broker in front of it, test devices, and the clients a test opens. A suite calls
 * {@link useEmbeddedBroker} once to register the hooks; the `let` exports are live bindings those hooks and
 * {@link start} assign.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, beforeAll, beforeEach, expect, vi } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../ingest/mqtt/embedded-broker.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { DeviceKeys, signConnectionToken, signMessage } from '../../src/index.js';
import { errorsTopic } from '../../src/protocol/topics.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';
import { HeldStore } from '../support/held-store.js';

export const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const AUDIENCE = 'telemetry-ingest';
export let alice: TestDevice;
export let bob: TestDevice;
export let stranger: TestDevice;
export let store: HeldStore;
export let node: IngestNode;
export let broker: EmbeddedBroker | undefined;
let clients: MqttClient[] = [];
let tempDir: string | undefined;

export async function start(env: Record<string, string> = {}, tls?: { cert: Buffer; key: Buffer }): Promise<void> {
  const config = parseConfig({ TELEMETRY_BATCH_MAX_WAIT_MS: '1', ...env });
  const keys = new DeviceKeys({ registry: () => registryOf(alice, bob) });
  node = await buildIngest({ config, store, keys, now: () => NOW });
  broker = await startEmbeddedBroker(node, {
    keys,
    host: '127.0.0.1',
    port: 0,
    wsPort: 0,
    ...(tls === undefined ? {} : { tls: { port: 0, ...tls } }),
    tokenAudience: AUDIENCE,
    maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
    clockSkewSeconds: config.clockSkewSeconds,
    maxPendingPerConnection: config.mqttMaxPendingPerConnection,
  });
}

export function token(device: TestDevice, lifetimeSeconds = 600, now = NOW): Promise<string> {
  return signConnectionToken(device.signer, { now, lifetimeSeconds, audience: AUDIENCE });
}

export async function connect(
  device: TestDevice,
  options: IClientOptions & { url?: string; token?: string } = {},
): Promise<MqttClient> {
  const { url, token: password, ...rest } = options;
  const client = await connectAsync(url ?? `mqtt://127.0.0.1:${broker?.tcpPort}`, {
    protocolVersion: 4,
    username: device.id,
    password: password ?? (await token(device)),
    reconnectPeriod: 0,
    ...rest,
  });
  clients.push(client);
  return client;
}

/** Records what a client sees, in order: notices on its errors topic and the connection closing. */
export async function watch(client: MqttClient, device: TestDevice) {
  const events: string[] = [];
  const notices: Record<string, unknown>[] = [];
  client.on('message', (_topic, payload) => {
    notices.push(JSON.parse(payload.toString()));
    events.push('notice');
  });
  client.on('close', () => events.push('close'));
  const granted = await client.subscribeAsync(errorsTopic(device.id), { qos: 1 });
  expect(granted[0]?.qos).toBe(1);
  return { events, notices };
}

export async function stored(device: string, limit = 1000) {
  const page = await store.queryReadings({
    devices: [device],
    range: { start: NOW - 86_400_000, end: NOW + 1 },
    limit,
  });
  return page.items;
}

export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export function reading(seq: number, device = alice): Promise<string> {
  return signMessage(device.signer, seq, [{ ts: NOW - seq, values: { t: seq } }]);
}

/** The seq a signed message carries, read without verifying it. */
function seqOf(input: string | Uint8Array): number {
  const jws = typeof input === 'string' ? input : Buffer.from(input).toString();
  const payload: unknown = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString());
  return (payload as { seq: number }).seq;
}

/** What went through node.pipeline.handle for one device. */
interface PipelineTrace {
  /** Its messages in the pipeline now. */
  inside: number;
  /** The most of its messages in the pipeline at once. */
  most: number;
  /** The seq of each message that entered the pipeline, in the order they entered. */
  entered: number[];
  /** The seq of each message the pipeline accepted. */
  accepted: number[];
}

/** Records, per device, what enters node.pipeline.handle and what it accepts. */
export function tracePipeline(): (device: string) => PipelineTrace {
  const traces = new Map<string, PipelineTrace>();
  const traceOf = (device: string): PipelineTrace => {
    let trace = traces.get(device);
    if (trace === undefined) {
      trace = { inside: 0, most: 0, entered: [], accepted: [] };
      traces.set(device, trace);
    }
    return trace;
  };
  const handle = node.pipeline.handle.bind(node.pipeline);
  vi.spyOn(node.pipeline, 'handle').mockImplementation(async (input, context) => {
    const trace = traceOf(context.expectedDevice ?? '');
    trace.inside++;
    trace.most = Math.max(trace.most, trace.inside);
    trace.entered.push(seqOf(input));
    try {
      const outcome = await handle(input, context);
      if (outcome.ok) trace.accepted.push(outcome.message.seq);
      return outcome;
    } finally {
      trace.inside--;
    }
  });
  return traceOf;
}

/** A certificate for 127.0.0.1 made with the openssl CLI, in a temporary folder that afterEach removes. */
export function selfSignedCertificate(): { cert: Buffer; key: Buffer } {
  tempDir = mkdtempSync(join(tmpdir(), 'mqtt-tls-'));
  const cert = join(tempDir, 'cert.pem');
  const key = join(tempDir, 'key.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-days',
        '1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'pipe' },
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('the openssl CLI is missing: install the Debian package `openssl` to run this test');
    }
    throw error;
  }
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

/** Registers the hooks every embedded-broker suite runs: devices once, a fresh store per test, and cleanup. */
export function useEmbeddedBroker(): void {
  beforeAll(async () => {
    alice = await makeDevice(`alice-${process.pid}`, 'ES256');
    bob = await makeDevice(`bob-${process.pid}`, 'EdDSA');
    stranger = await makeDevice(`stranger-${process.pid}`, 'ES256');
  });

  beforeEach(async () => {
    store = new HeldStore(await DuckDbStore.open({ path: ':memory:' }));
  });

  afterEach(async () => {
    store.heal();
    store.release();
    await Promise.all(clients.map((client) => client.endAsync(true)));
    clients = [];
    await broker?.close();
    broker = undefined;
    await node.close(1000);
    await store.close();
    if (tempDir !== undefined) rmSync(tempDir, { recursive: true, force: true });
    tempDir = undefined;
  });
}
