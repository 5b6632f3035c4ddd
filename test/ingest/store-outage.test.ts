import { setTimeout as delay } from 'node:timers/promises';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import type { ErrorBody } from '../../ingest/http/error-reply.js';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../ingest/mqtt/embedded-broker.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { DeviceKeys, signConnectionToken, signMessage } from '../../src/index.js';
import { errorsTopic, messagesTopic } from '../../src/protocol/topics.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import type { StoredPoint } from '../../src/store/telemetry-store.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';
import { startInfluxDb } from '../support/influxdb-server.js';
import { pollUntil } from '../support/poll-until.js';
import type { TestServer } from '../support/server-process.js';
import { startVictoriaMetrics } from '../support/victoria-metrics-server.js';

/**
 * The store-outage drill: stop the store server while the node is under load from HTTP and MQTT devices, check
 * that writes fail as retryable and acknowledgements stop, start it again (same port, same data folder), and check
 * that every acknowledged reading is stored, with its value, exactly once.
 */

const HTTP_DEVICES = 3;
const MQTT_DEVICES = 3;
/** QoS 1 publishes an MQTT device keeps unacknowledged at once. */
const MQTT_WINDOW = 8;
/** Small enough that the devices' unacknowledged messages can fill it while the store is down. */
const MAX_INFLIGHT_READINGS = 24;
/** A bound on each device's messages, in case a phase never ends. */
const MAX_MESSAGES_PER_DEVICE = 5_000;
/** HTTP devices wait Retry-After, but at most this long, to keep the drill short. */
const CLIENT_WAIT_CAP_MS = 100;
const AUDIENCE = 'telemetry-ingest';
const METRIC = 't';

interface StoreUnderTest {
  readonly server: TestServer;
  readonly store: InfluxStore;
  /** Makes accepted writes searchable now. */
  flush(): Promise<void>;
}

const TARGETS: readonly { readonly name: string; start(): Promise<StoreUnderTest> }[] = [
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
interface LoadRecord {
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

const keyOf = (device: string, ts: number): string => `${device}\u0000${ts}`;

let devices: { http: TestDevice[]; mqtt: TestDevice[] };
let target: StoreUnderTest | undefined;
let node: IngestNode | undefined;
let broker: EmbeddedBroker | undefined;
let clients: MqttClient[] = [];
let load: LoadRecord | undefined;

beforeAll(async () => {
  const make = (kind: string, n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => makeDevice(`${kind}-${i}-${process.pid}`, 'ES256')));
  devices = { http: await make('http', HTTP_DEVICES), mqtt: await make('mqtt', MQTT_DEVICES) };
});

afterEach(async () => {
  if (load !== undefined) load.stopped = true;
  load = undefined;
  await Promise.all(clients.map((client) => client.endAsync(true)));
  clients = [];
  await broker?.close();
  broker = undefined;
  await node?.close(1_000);
  node = undefined;
  await target?.store.close();
  await target?.server.stop();
  target = undefined;
});

/** Sends one message at a time, each until it is acknowledged, waiting (capped) Retry-After between attempts. */
async function runHttpDevice(device: TestDevice, url: string, base: number, record: LoadRecord): Promise<void> {
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
async function runMqttDevice(device: TestDevice, client: MqttClient, base: number, record: LoadRecord): Promise<void> {
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

async function connectMqtt(device: TestDevice, port: number, record: LoadRecord): Promise<MqttClient> {
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

async function readyStatus(url: string): Promise<number> {
  const response = await fetch(`${url}/readyz`);
  await response.arrayBuffer();
  return response.status;
}

/** Every stored point of `deviceIds` between `start` and `end`, following cursors. */
async function storedPoints(
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

const countCodes = (items: readonly { readonly code: string }[]): Record<string, number> =>
  Object.fromEntries(
    [...new Set(items.map((i) => i.code))].map((code) => [code, items.filter((i) => i.code === code).length]),
  );
const countSince = (times: readonly number[], since: number): number => times.filter((t) => t >= since).length;
const acksOf = (record: LoadRecord, device: string): number => record.acks.filter((a) => a.device === device).length;

describe.each(TARGETS)('a store outage under load, on $name', ({ name, start }) => {
  it('stops acknowledging while the store is down, recovers by itself, and stores every acknowledged reading exactly once', async ({
    annotate,
  }) => {
    const t0 = Date.now();
    target = await start();
    const { server, store } = target;
    const config = parseConfig({
      TELEMETRY_BATCH_MAX_WAIT_MS: '5',
      TELEMETRY_BATCH_MAX_READINGS: String(MAX_INFLIGHT_READINGS),
      TELEMETRY_MAX_INFLIGHT_READINGS: String(MAX_INFLIGHT_READINGS),
    });
    const everyone = [...devices.http, ...devices.mqtt];
    const keys = new DeviceKeys({ registry: () => registryOf(...everyone) });
    node = await buildIngest({ config, store, keys });
    const url = await node.app.listen({ host: '127.0.0.1', port: 0 });
    broker = await startEmbeddedBroker(node, {
      keys,
      host: '127.0.0.1',
      port: 0,
      tokenAudience: AUDIENCE,
      maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
      clockSkewSeconds: config.clockSkewSeconds,
    });
    const mqttPort = broker.tcpPort;
    const record: LoadRecord = {
      stopped: false,
      acks: [],
      refusals: [],
      sent: new Map(),
      pubacks: [],
      notices: [],
      closes: new Map(),
      finished: new Set(),
      failures: [],
      maxInflight: 0,
    };
    load = record;
    const writer = node.writer;
    const sampler = setInterval(() => {
      record.maxInflight = Math.max(record.maxInflight, writer.inflight);
    }, 2);

    // Distinct, recent timestamps: each device's message seq is its reading's offset from `base`.
    const base = Date.now() - 60_000;
    const track = (device: TestDevice, run: Promise<void>): void => {
      run.then(
        () => record.finished.add(device.id),
        (error: unknown) => record.failures.push(error),
      );
    };
    for (const device of devices.http) track(device, runHttpDevice(device, url, base, record));
    for (const device of devices.mqtt) {
      const client = await connectMqtt(device, mqttPort, record);
      track(device, runMqttDevice(device, client, base, record));
    }

    try {
      // Phase 1: the store is up; every device gets acknowledgements.
      await pollUntil(
        async () => everyone.every((d) => acksOf(record, d.id) >= 20),
        'every device to get 20 acknowledgements',
        15_000,
      );

      // Phase 2: stop the store server (SIGTERM, awaiting its exit).
      const acksBeforeOutage = record.acks.length;
      const haltStarted = Date.now();
      await server.halt();
      const haltEnded = Date.now();
      const acksAtExit = record.acks.length;
      await pollUntil(async () => (await readyStatus(url)) === 503, '/readyz to answer 503', 5_000);
      // Writes that the store accepted before it exited may still be acknowledged until here.
      const windowStart = Date.now();
      const acksAtWindowStart = record.acks.length;
      await pollUntil(
        async () =>
          // An acknowledgement now ends the wait: the assertions below then say what went wrong.
          record.acks.length > acksAtWindowStart ||
          (devices.http.every(
            (d) => record.refusals.filter((r) => r.device === d.id && r.at >= windowStart).length >= 3,
          ) &&
            devices.mqtt.every((d) => countSince(record.closes.get(d.id) ?? [], windowStart) >= 3)),
        'every HTTP device to be refused and every MQTT device to be disconnected three times',
        15_000,
      );
      expect(await readyStatus(url)).toBe(503);
      const windowEnd = Date.now();
      const acksAtWindowEnd = record.acks.length;
      expect(acksAtWindowEnd).toBe(acksAtWindowStart);
      expect(record.pubacks.filter((t) => t >= windowStart && t <= windowEnd)).toEqual([]);
      const outageRefusals = record.refusals.filter((r) => r.at >= windowStart && r.at <= windowEnd);
      const outageNotices = record.notices.filter((n) => n.at >= windowStart && n.at <= windowEnd);

      // Phase 3: start it again on the same port and data folder; the node recovers by itself.
      const resumeStarted = Date.now();
      await server.resume();
      const resumeEnded = Date.now();
      await pollUntil(async () => (await readyStatus(url)) === 200, '/readyz to answer 200 again', 10_000);
      const readyAgain = Date.now();
      const acksAtResume = new Map(everyone.map((d) => [d.id, acksOf(record, d.id)]));
      await pollUntil(
        async () => everyone.every((d) => acksOf(record, d.id) >= (acksAtResume.get(d.id) ?? 0) + 20),
        'every device to get 20 more acknowledgements after the outage',
        15_000,
      );
      const firstAckAfter = Math.min(...record.acks.filter((a) => a.at >= resumeStarted).map((a) => a.at));

      // Phase 4: stop the load; devices finish what they have in flight.
      record.stopped = true;
      await pollUntil(async () => record.finished.size === everyone.length, 'every device to finish', 15_000);
      clearInterval(sampler);
      expect(record.failures).toEqual([]);

      // Every refusal said the store is down or the node full, as a retryable 503 with Retry-After.
      expect(outageRefusals.length).toBeGreaterThan(0);
      for (const refusal of record.refusals) {
        expect(refusal).toMatchObject({ status: 503, retryAfter: expect.stringMatching(/^\d+$/) });
        expect(['ERR_STORE_UNAVAILABLE', 'ERR_OVERLOADED']).toContain(refusal.code);
      }
      expect(outageRefusals.some((r) => r.code === 'ERR_STORE_UNAVAILABLE')).toBe(true);
      for (const notice of record.notices) {
        expect(notice.retryable).toBe(true);
        expect(['ERR_STORE_UNAVAILABLE', 'ERR_OVERLOADED']).toContain(notice.code);
      }
      expect(record.maxInflight).toBeLessThanOrEqual(MAX_INFLIGHT_READINGS);

      // Read everything back: every acknowledged reading, with its value, exactly once.
      const deviceIds = everyone.map((d) => d.id);
      const end = base + MAX_MESSAGES_PER_DEVICE + 1;
      const acked = new Map(record.acks.map((a) => [keyOf(a.device, a.ts), a.value]));
      expect(acked.size).toBe(record.acks.length);
      let points: StoredPoint[] = [];
      await target.flush();
      await pollUntil(
        async () => {
          points = await storedPoints(store, deviceIds, base, end);
          const keys = new Set(points.map((p) => keyOf(p.device, p.ts)));
          return [...acked.keys()].every((k) => keys.has(k));
        },
        'every acknowledged reading to be stored',
        10_000,
      );
      const stored = new Map<string, number>();
      for (const p of points) {
        const key = keyOf(p.device, p.ts);
        expect(stored.has(key), `${p.device} at ${p.ts} is stored twice`).toBe(false);
        expect(p.metric).toBe(METRIC);
        stored.set(key, p.value);
      }
      for (const [key, value] of acked) expect(stored.get(key)).toBe(value);
      // Nothing stored that no device sent, and each with the value sent.
      for (const [key, value] of stored) expect(record.sent.get(key)).toBe(value);

      const unacknowledged = [...record.sent.keys()].filter((k) => !acked.has(k));
      const summary = {
        acks: {
          beforeOutage: acksBeforeOutage,
          whileExiting: acksAtExit - acksBeforeOutage,
          afterExitBeforeReadyz503: acksAtWindowStart - acksAtExit,
          whileDown: acksAtWindowEnd - acksAtWindowStart,
          afterResume: record.acks.filter((a) => a.at >= resumeStarted).length,
          total: record.acks.length,
        },
        httpRefusalsWhileDown: countCodes(outageRefusals),
        mqttNoticesWhileDown: countCodes(outageNotices),
        mqttNoticesOverall: countCodes(record.notices),
        mqttDisconnects: [...record.closes.values()].reduce((n, c) => n + c.length, 0),
        maxInflight: record.maxInflight,
        sent: record.sent.size,
        unacknowledged: unacknowledged.length,
        unacknowledgedButStored: unacknowledged.filter((k) => stored.has(k)).length,
        stored: stored.size,
        ms: {
          halt: haltEnded - haltStarted,
          downWindow: windowEnd - windowStart,
          resume: resumeEnded - resumeStarted,
          readyAfterResume: readyAgain - resumeEnded,
          firstAckAfterResumeStarted: firstAckAfter - resumeStarted,
          total: Date.now() - t0,
        },
      };
      // What the drill measured, in the reporter's output and the JSON results.
      await annotate(JSON.stringify(summary), 'store-outage');
      console.info('store-outage drill', JSON.stringify({ store: name, ...summary }));
    } finally {
      clearInterval(sampler);
      record.stopped = true;
    }
  }, 60_000);
});
