import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../ingest/mqtt/embedded-broker.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { DeviceKeys } from '../../src/index.js';
import type { StoredPoint } from '../../src/store/telemetry-store.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';
import { pollUntil } from '../support/poll-until.js';
import {
  AUDIENCE,
  acksOf,
  closeMqttClients,
  connectMqtt,
  countCodes,
  countSince,
  HTTP_DEVICES,
  keyOf,
  type LoadRecord,
  MAX_INFLIGHT_READINGS,
  MAX_MESSAGES_PER_DEVICE,
  METRIC,
  MQTT_DEVICES,
  readyStatus,
  runHttpDevice,
  runMqttDevice,
  type StoreUnderTest,
  storedPoints,
  TARGETS,
} from './store-outage-support.js';

/**
 * The store-outage drill: stop the store server while the node is under load from HTTP and MQTT devices, check
 * that writes fail as retryable and acknowledgements stop, start it again (same port, same data folder), and check
 * that every acknowledged reading is stored, with its value, exactly once.
 */

let devices: { http: TestDevice[]; mqtt: TestDevice[] };
let target: StoreUnderTest | undefined;
let node: IngestNode | undefined;
let broker: EmbeddedBroker | undefined;
let load: LoadRecord | undefined;

beforeAll(async () => {
  const make = (kind: string, n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => makeDevice(`${kind}-${i}-${process.pid}`, 'ES256')));
  devices = { http: await make('http', HTTP_DEVICES), mqtt: await make('mqtt', MQTT_DEVICES) };
});

afterEach(async () => {
  if (load !== undefined) load.stopped = true;
  load = undefined;
  await closeMqttClients();
  await broker?.close();
  broker = undefined;
  await node?.close(1_000);
  node = undefined;
  await target?.store.close();
  await target?.server.stop();
  target = undefined;
});

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
