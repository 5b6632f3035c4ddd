import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BridgeMetrics } from '../../bridge/bridge-metrics.js';
import { type MqttIntake, startMqttIntake } from '../../bridge/intake/mqtt-intake.js';
import { DeviceKeysFolder } from '../../bridge/keys/device-keys-folder.js';
import { zigbee2mqttMapping } from '../../bridge/mapping/zigbee2mqtt-mapping.js';
import { ReadingIntake } from '../../bridge/reading-intake.js';
import { ReadingJournal } from '../../bridge/state/reading-journal.js';
import { CuttingProxy } from '../support/cutting-proxy.js';
import { type MosquittoServer, startMosquitto } from '../support/mosquitto-server.js';
import { pollUntil } from '../support/poll-until.js';

/** One bridge's intake side, over a journal in `dir`: the real intake, the real journal, the real MQTT client. */
interface BridgeIntake {
  readonly journal: ReadingJournal;
  readonly metrics: BridgeMetrics;
  readonly mqtt: MqttIntake;
}

let mosquitto: MosquittoServer;
let proxy: CuttingProxy;
let publisher: MqttClient;
let dir: string;
let running: BridgeIntake[] = [];
/** Called once after the next journal write, before the message is acknowledged. */
let afterNextJournalWrite: (() => void) | undefined;

beforeAll(async () => {
  mosquitto = await startMosquitto();
  proxy = new CuttingProxy(Number(new URL(mosquitto.url).port));
  await proxy.listen();
  publisher = await connectAsync(mosquitto.url, { clientId: 'test-publisher', protocolVersion: 4 });
}, 60_000);

afterAll(async () => {
  await publisher?.endAsync();
  await proxy?.close();
  await mosquitto?.stop();
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mqtt-intake-redelivery-'));
  proxy.blocked = false;
  afterNextJournalWrite = undefined;
});

afterEach(async () => {
  for (const bridge of running) {
    await bridge.mqtt.close();
    bridge.journal.close();
  }
  running = [];
  await rm(dir, { recursive: true, force: true });
});

/** Starts the intake side of a bridge with the persistent session `clientId`, through the proxy. */
function startIntake(clientId: string): BridgeIntake {
  const journal = ReadingJournal.open(join(dir, 'backlog'), 1_000_000);
  const metrics = new BridgeMetrics();
  const logger = pino({ level: 'silent' });
  const keys = new DeviceKeysFolder({
    dir: join(dir, 'keys'),
    create: true,
    alg: 'EdDSA',
    registry: undefined,
    onCreated: () => {},
  });
  const intake = new ReadingIntake({
    journal,
    keys,
    metrics,
    logger,
    now: Date.now,
    added: () => {
      const hook = afterNextJournalWrite;
      afterNextJournalWrite = undefined;
      hook?.();
    },
  });
  const mqtt = startMqttIntake(
    { url: proxy.url, clientId, username: '', password: '', mappings: [zigbee2mqttMapping('')] },
    intake,
    metrics,
    logger,
  );
  const bridge = { journal, metrics, mqtt };
  running.push(bridge);
  return bridge;
}

/** A Zigbee2MQTT state without `last_seen`: the bridge stamps it with its arrival time. */
const publish = (value: number) =>
  publisher.publishAsync('zigbee2mqtt/kitchen', JSON.stringify({ temperature: value }), { qos: 1 });

/** The temperatures in the journal, in the order they were written. */
const journaled = (journal: ReadingJournal) => [...journal.waiting()].map((e) => e.values.temperature);

const redeliveriesSkipped = async (bridge: BridgeIntake) =>
  (await bridge.metrics.redeliveriesSkipped.get()).values[0]?.value;

describe('the MQTT intake against Mosquitto when the bridge loses its connection between the journal and the PUBACK', () => {
  it('journals a message the broker delivers again (DUP) after a reconnect only once', async () => {
    const bridge = startIntake('bridge-reconnect');
    await pollUntil(async () => bridge.mqtt.state() === 'subscribed', 'the intake to subscribe');
    // The connection goes after message 1 is in the journal and before its PUBACK leaves.
    afterNextJournalWrite = () => proxy.cut();
    await publish(1);
    await pollUntil(async () => journaled(bridge.journal).length >= 1, 'message 1 in the journal');
    for (const value of [2, 3]) await publish(value);
    // Mosquitto sends what was in flight (message 1, DUP set) before the queued messages 2 and 3.
    await pollUntil(async () => journaled(bridge.journal).includes(3), 'message 3 in the journal', 20_000);
    expect(journaled(bridge.journal)).toEqual([1, 2, 3]);
    expect(await redeliveriesSkipped(bridge)).toBe(1);
  });

  it('journals it only once when the bridge is restarted from its journal in between', async () => {
    const first = startIntake('bridge-restart');
    await pollUntil(async () => first.mqtt.state() === 'subscribed', 'the first intake to subscribe');
    afterNextJournalWrite = () => {
      // The first bridge dies: its connection goes, and it never comes back.
      proxy.blocked = true;
      proxy.cut();
      void first.mqtt.close();
    };
    await publish(1);
    await pollUntil(async () => journaled(first.journal).length >= 1, 'message 1 in the first journal');
    await publish(2);
    proxy.blocked = false;
    const second = startIntake('bridge-restart');
    await pollUntil(async () => journaled(second.journal).includes(2), 'message 2 in the second journal', 20_000);
    expect(journaled(second.journal)).toEqual([1, 2]);
    // The second bridge knew message 1 from the first one's journal alone.
    expect(await redeliveriesSkipped(second)).toBe(1);
  });

  it('takes a new message equal to one taken before: a device may send the same payload twice', async () => {
    const bridge = startIntake('bridge-repeat');
    await pollUntil(async () => bridge.mqtt.state() === 'subscribed', 'the intake to subscribe');
    for (const value of [7, 7, 8]) await publish(value);
    await pollUntil(async () => journaled(bridge.journal).includes(8), 'message 8 in the journal');
    expect(journaled(bridge.journal)).toEqual([7, 7, 8]);
    expect(await redeliveriesSkipped(bridge)).toBe(0);
  });
});
