/**
 * The devices, load record and read-back helpers of the store-outage drill (store-outage.test.ts): HTTP and MQTT
 * devices that send signed readings until told to stop, recording every acknowledgement, refusal, notice and
 * disconnect as it happens.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { connectAsync, type MqttClient } from 'mqtt';
import type { ErrorBody } from '../../ingest/http/error-reply.js';
import { signConnectionToken, signMessage } from '../../src/index.js';
import { errorsTopic, messagesTopic } from '../../src/protocol/topics.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import type { StoredPoint } from '../../src/store/telemetry-store.js';
import type { TestDevice } from '../support/devices.js';
import { startInfluxDb } from '../support/influxdb-server.js';
import type { TestServer } from '../support/server-process.js';
import { startVictoriaMetrics } from '../support/victoria-metrics-server.js';

export const HTTP_DEVICES = 3;
export const MQTT_DEVICES = 3;
/** QoS 1 publishes an MQTT device keeps unacknowledged at once. */
const MQTT_WINDOW = 8;
/** Small enough that the devices' unacknowledged messages can fill it while the store is down. */
export const MAX_INFLIGHT_READINGS = 24;
/** A bound on each device's messages, in case a phase never ends. */
export const MAX_MESSAGES_PER_DEVICE = 5_000;
/** HTTP devices wait Retry-After, but at most this long, to keep the drill short. */
const CLIENT_WAIT_CAP_MS = 100;
export const AUDIENCE = 'telemetry-ingest';
export const METRIC = 't';

export interface StoreUnderTest {
  readonly server: TestServer;
  readonly store: InfluxStore;
  /** Makes accepted writes searchable now. */
  flush(): Promise<void>;
}

export const TARGETS: readonly { readonly name: string; start(): Promise<StoreUnderTest> }[] = [
  {
    name: 'VictoriaMetrics',
    async start() {
      const server = await startVictoriaMetrics();
      const store = new InfluxStore({
        url: server.url,
        api: 'v2',
        org: 'fleet',
        bucket: 'telemetry',
        timeoutMs: 2_000,
        queryMode: 'victoriametrics',
      });
      return { server, store, flush: () => server.flush() };
    },
  },
  {
    name: 'InfluxDB 1.6.7',
    async start() {
      const server = await startInfluxDb();
      const store = new InfluxStore({
        url: server.url,
        api: 'v1',
        database: server.database,
        timeoutMs: 2_000,
        queryMode: 'influxql',
      });
      return { server, store, flush: async () => {} };
    },
  },
];

interface Ack {
  readonly device: string;
  readonly ts: number;
  readonly value: number;
  readonly at: number;
}

interface Refusal {
  readonly device: string;
  readonly at: number;
  readonly status: number;
  readonly code: string;
  readonly retryAfter: string | null;
}

/** What the devices did and saw; every field is appended to as it happens. */
export interface LoadRecord {
  stopped: boolean;
  readonly acks: Ack[];
  readonly refusals: Refusal[];
  /** Every message a device sent at least once: key → value. */
  readonly sent: Map<string, number>;
  readonly pubacks: number[];
  /** Notices the node published on MQTT devices' error topics. */
  readonly notices: {
    readonly device: string;
    readonly at: number;
    readonly code: string;
    readonly retryable: boolean;
  }[];
  /** Connection closes seen by each MQTT device, by time. */
  readonly closes: Map<string, number[]>;
  readonly finished: Set<string>;
  /** What made a device's loop fail (a test failure stops the node under the devices). */
  readonly failures: unknown[];
  maxInflight: number;
}

export const keyOf = (device: string, ts: number): string => `${device}\u0000${ts}`;

/** The MQTT clients connectMqtt opened, ended by closeMqttClients after each test. */
let clients: MqttClient[] = [];

/** Ends every client connectMqtt opened. */
export async function closeMqttClients(): Promise<void> {
  await Promise.all(clients.map((client) => client.endAsync(true)));
  clients = [];
}

/** Sends one message at a time, each until it is acknowledged, waiting (capped) Retry-After between attempts. */
export async function runHttpDevice(device: TestDevice, url: string, base: number, record: LoadRecord): Promise<void> {
  for (let seq = 1; seq <= MAX_MESSAGES_PER_DEVICE && !record.stopped; seq++) {
    const ts = base + seq;
    const value = seq / 4;
    const jws = await signMessage(device.signer, seq, [{ ts, values: { [METRIC]: value } }]);
    record.sent.set(keyOf(device.id, ts), value);
    for (;;) {
      const response = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/jose' },
        body: jws,
      });
      if (response.status === 200) {
        await response.arrayBuffer();
        record.acks.push({ device: device.id, ts, value, at: Date.now() });
        break;
      }
      const body = (await response.json()) as ErrorBody;
      const retryAfter = response.headers.get('retry-after');
      record.refusals.push({
        device: device.id,
        at: Date.now(),
        status: response.status,
        code: body.error.code,
        retryAfter,
      });
      if (record.stopped) return;
      // The device's own backoff, as a real client would wait; not a wait for the test's sake.
      await delay(Math.min(Number(retryAfter ?? '1') * 1_000, CLIENT_WAIT_CAP_MS));
    }
  }
}

/** Publishes QoS 1 messages, keeping up to MQTT_WINDOW unacknowledged; mqtt.js resends them after reconnecting. */
export async function runMqttDevice(
  device: TestDevice,
  client: MqttClient,
  base: number,
  record: LoadRecord,
): Promise<void> {
  const pending = new Set<Promise<void>>();
  for (let seq = 1; seq <= MAX_MESSAGES_PER_DEVICE && !record.stopped; seq++) {
    while (pending.size >= MQTT_WINDOW) await Promise.race(pending);
    if (record.stopped) break;
    const ts = base + seq;
    const value = seq / 4;
    const jws = await signMessage(device.signer, seq, [{ ts, values: { [METRIC]: value } }]);
    record.sent.set(keyOf(device.id, ts), value);
    const acked: Promise<void> = client.publishAsync(messagesTopic(device.id), jws, { qos: 1 }).then(
      () => {
        record.acks.push({ device: device.id, ts, value, at: Date.now() });
      },
      () => {
        // The client was ended: the message stays unacknowledged.
      },
    );
    const tracked = acked.finally(() => pending.delete(tracked));
    pending.add(tracked);
  }
  await Promise.all(pending);
}

export async function connectMqtt(device: TestDevice, port: number, record: LoadRecord): Promise<MqttClient> {
  const password = await signConnectionToken(device.signer, {
    now: Date.now(),
    lifetimeSeconds: 600,
    audience: AUDIENCE,
  });
  const client = await connectAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 4,
    username: device.id,
    password,
    reconnectPeriod: 50,
    connectTimeout: 5_000,
  });
  clients.push(client);
  const closes: number[] = [];
  record.closes.set(device.id, closes);
  client.on('close', () => closes.push(Date.now()));
  client.on('packetreceive', (packet) => {
    if (packet.cmd === 'puback') record.pubacks.push(Date.now());
  });
  client.on('message', (_topic, payload) => {
    const notice = JSON.parse(payload.toString()) as { code: string; retryable: boolean };
    record.notices.push({ device: device.id, at: Date.now(), code: notice.code, retryable: notice.retryable });
  });
  // Sessions are clean, so mqtt.js subscribes again after each reconnect, but only once every stored publish it
  // resends (one at a time) is acknowledged: while the store is down, notices reach a device on its first
  // connection only.
  await client.subscribeAsync(errorsTopic(device.id), { qos: 0 });
  return client;
}

export async function readyStatus(url: string): Promise<number> {
  const response = await fetch(`${url}/readyz`);
  await response.arrayBuffer();
  return response.status;
}

/** Every stored point of `deviceIds` between `start` and `end`, following cursors. */
export async function storedPoints(
  store: InfluxStore,
  deviceIds: readonly string[],
  start: number,
  end: number,
): Promise<StoredPoint[]> {
  const points: StoredPoint[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.queryReadings({
      devices: deviceIds,
      range: { start, end },
      limit: 1_000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    points.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return points;
}

export const countCodes = (items: readonly { readonly code: string }[]): Record<string, number> =>
  Object.fromEntries(
    [...new Set(items.map((i) => i.code))].map((code) => [code, items.filter((i) => i.code === code).length]),
  );
export const countSince = (times: readonly number[], since: number): number => times.filter((t) => t >= since).length;
export const acksOf = (record: LoadRecord, device: string): number =>
  record.acks.filter((a) => a.device === device).length;
