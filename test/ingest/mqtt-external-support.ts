/**
 * Shared setup of the external-broker suites (mqtt-external-*.test.ts): a Mosquitto server for the file, test
 * devices, nodes subscribed to it, and the clients and processes a test starts, stopped after it. A suite calls
 * {@link useMosquitto} once to register the hooks; the `let` exports are live bindings those hooks assign.
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { type ExternalSubscriber, startExternalSubscriber } from '../../ingest/mqtt/external-subscriber.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { DeviceKeys } from '../../src/index.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';
import { HeldStore } from '../support/held-store.js';
import { type MosquittoServer, startMosquitto } from '../support/mosquitto-server.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';

export const NOW = Date.now();
export let broker: MosquittoServer;
export let alice: TestDevice;
export let bob: TestDevice;
let sequence = 0;
/** Everything a test started, stopped in reverse order after it. */
export let cleanups: Array<() => Promise<unknown>> = [];

/** The next number of a sequence that makes client ids and share groups unique on the file's broker. */
export function nextSequence(): number {
  return ++sequence;
}

/** Registers the hooks of an external-broker suite: Mosquitto and devices once, cleanups after each test. */
export function useMosquitto(): void {
  beforeAll(async () => {
    broker = await startMosquitto();
    alice = await makeDevice(`alice-${process.pid}`, 'ES256');
    bob = await makeDevice(`bob-${process.pid}`, 'EdDSA');
  });

  afterAll(async () => {
    await broker?.stop();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups = [];
  });
}

interface RunningTestNode {
  readonly node: IngestNode;
  readonly store: HeldStore;
  readonly subscriber: ExternalSubscriber;
  readonly clientId: string;
}

/**
 * A node with its own in-memory store, subscribed to the broker in share group `group` over `connections`
 * (each with `receiveMaximum`, the subscriber's default when absent).
 */
export async function startTestNode(group: string, connections = 1, receiveMaximum?: number): Promise<RunningTestNode> {
  const store = new HeldStore(await DuckDbStore.open({ path: ':memory:' }));
  const node = await buildIngest({
    config: parseConfig({ TELEMETRY_BATCH_MAX_WAIT_MS: '1' }),
    store,
    keys: new DeviceKeys({ registry: () => registryOf(alice, bob) }),
    now: () => NOW,
  });
  const clientId = `node-${process.pid}-${++sequence}`;
  const subscriber = await startExternalSubscriber(node, {
    url: broker.url,
    shareGroup: group,
    clientId,
    connections,
    ...(receiveMaximum === undefined ? {} : { receiveMaximum }),
    backoff: { minMs: 100, maxMs: 400 },
  });
  cleanups.push(async () => {
    store.release();
    store.heal();
    await subscriber.close();
    await node.close(1000);
    await store.close();
  });
  return { node, store, subscriber, clientId };
}

/** An MQTT 5 client as a device (or a probe) would open it; closed after the test. */
export async function client(clientId: string, options: Parameters<typeof connectAsync>[1] = {}): Promise<MqttClient> {
  const connected = await connectAsync(broker.url, { protocolVersion: 5, clientId, reconnectPeriod: 0, ...options });
  cleanups.push(() => connected.endAsync(true));
  return connected;
}

export function newGroup(): string {
  return `ingest-${process.pid}-${++sequence}`;
}

export async function storedTimes(store: TelemetryStore, device: string): Promise<number[]> {
  const page = await store.queryReadings({
    devices: [device],
    range: { start: NOW - 86_400_000, end: NOW + 86_400_000 },
    limit: 10_000,
  });
  return page.items.map((item) => item.ts);
}

/** Starts `telemetry serve` and makes sure it is killed after the test. */
export async function startServeProcess(cwd: string, env: NodeJS.ProcessEnv): Promise<ServeProcess> {
  const node = await startServe({ cwd, env });
  cleanups.push(async () => {
    await node.stop('SIGKILL');
  });
  return node;
}

export function reading(ts: number): Array<{ ts: number; values: Record<string, number> }> {
  return [{ ts, values: { t: ts % 1000 } }];
}
