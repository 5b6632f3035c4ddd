import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Aedes, type Client, type Subscription } from 'aedes';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BridgeMetrics } from '../../bridge/bridge-metrics.js';
import { buildBridgeHttpApp } from '../../bridge/intake/bridge-http-app.js';
import { type MqttIntake, startMqttIntake } from '../../bridge/intake/mqtt-intake.js';
import { DeviceKeysFolder } from '../../bridge/keys/device-keys-folder.js';
import { zigbee2mqttMapping } from '../../bridge/mapping/zigbee2mqtt-mapping.js';
import { ReadingIntake } from '../../bridge/reading-intake.js';
import { ReadingJournal } from '../../bridge/state/reading-journal.js';
import { pollUntil } from '../support/poll-until.js';

/** What the local broker (aedes on loopback) does with each SUBSCRIBE: grant, refuse (SUBACK 0x80), or hold it. */
let onSubscribe: (subscription: Subscription, answer: (granted: Subscription | null) => void) => void;
let broker: Aedes;
let server: Server;
let url: string;
let dir: string;
let journal: ReadingJournal;
let mqtt: MqttIntake | undefined;
let logLines: { msg: string; refused?: string[] }[];

beforeEach(async () => {
  onSubscribe = (subscription, answer) => answer(subscription);
  broker = new Aedes({
    authorizeSubscribe: (_client, subscription, callback) =>
      onSubscribe(subscription, (granted) => callback(null, granted)),
  });
  await broker.listen();
  server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `mqtt://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  dir = await mkdtemp(join(tmpdir(), 'mqtt-intake-health-'));
  journal = ReadingJournal.open(join(dir, 'backlog'), 1_000_000);
  logLines = [];
});

afterEach(async () => {
  await mqtt?.close();
  mqtt = undefined;
  journal.close();
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

/** The bridge's MQTT intake on the local broker, and its /healthz as the bridge's HTTP app answers it. */
function startBridgeIntake() {
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(JSON.parse(chunk.toString('utf8')));
        done();
      },
    }),
  );
  const metrics = new BridgeMetrics();
  const keys = new DeviceKeysFolder({
    dir: join(dir, 'keys'),
    create: true,
    alg: 'EdDSA',
    registry: undefined,
    onCreated: () => {},
  });
  const intake = new ReadingIntake({ journal, keys, metrics, logger, now: Date.now, added: () => {} });
  const started = startMqttIntake(
    {
      url,
      clientId: 'bridge-health',
      username: '',
      password: '',
      mappings: [zigbee2mqttMapping('')],
      resubscribeAfterMs: 200,
    },
    intake,
    metrics,
    logger,
  );
  mqtt = started;
  const app = buildBridgeHttpApp({
    intake,
    metrics,
    logger,
    devicePrefix: '',
    health: () => ({ mqtt: started.state(), backlog: journal.size }),
  });
  const healthz = async () => {
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    return { status: response.statusCode, body: response.json() };
  };
  return { mqtt: started, healthz };
}

describe("The bridge's /healthz follows its subscription on the local broker", () => {
  it('is degraded while connected but not yet subscribed, and ok once the broker grants the filters', async () => {
    let grant: (() => void) | undefined;
    onSubscribe = (subscription, answer) => {
      grant = () => answer(subscription);
    };
    const bridge = startBridgeIntake();
    await pollUntil(async () => grant !== undefined, 'the bridge to subscribe');

    expect(bridge.mqtt.state()).toBe('subscribing');
    expect(await bridge.healthz()).toEqual({
      status: 503,
      body: { status: 'degraded', mqtt: 'subscribing', backlog: 0 },
    });

    grant?.();
    await pollUntil(async () => bridge.mqtt.state() === 'subscribed', 'the SUBACK to arrive');
    expect(await bridge.healthz()).toEqual({ status: 200, body: { status: 'ok', mqtt: 'subscribed', backlog: 0 } });
  });

  it('is degraded while the broker refuses a filter, says which in the log, and asks again until granted', async () => {
    let refusing = true;
    let asked = 0;
    onSubscribe = (subscription, answer) => {
      asked += 1;
      answer(refusing ? null : subscription);
    };
    const bridge = startBridgeIntake();
    await pollUntil(async () => bridge.mqtt.state() === 'refused', 'the refusal');

    expect(await bridge.healthz()).toEqual({ status: 503, body: { status: 'degraded', mqtt: 'refused', backlog: 0 } });
    expect(logLines.find((line) => line.refused !== undefined)?.refused).toEqual(['zigbee2mqtt/+']);

    await pollUntil(async () => asked >= 2, 'the bridge to ask again');
    refusing = false;
    await pollUntil(async () => bridge.mqtt.state() === 'subscribed', 'the subscription once the broker grants it');
    expect((await bridge.healthz()).status).toBe(200);
  });

  it('stops on its own when the broker never answers its SUBSCRIBE', async () => {
    let held = false;
    onSubscribe = () => {
      held = true;
    };
    const bridge = startBridgeIntake();
    await pollUntil(async () => held, 'the bridge to subscribe');

    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<string>((resolve) => {
      timer = setTimeout(resolve, 10_000, 'still waiting');
    });
    expect(await Promise.race([bridge.mqtt.close().then(() => 'closed'), stuck])).toBe('closed');
    clearTimeout(timer);
    mqtt = undefined;
    // Closed for real: the broker's side of the connection ends too, so nothing keeps the bridge process alive.
    const open = () => new Promise<number>((resolve) => server.getConnections((_error, count) => resolve(count)));
    await pollUntil(async () => (await open()) === 0, 'the connection to close', 5_000);
  });

  it('is degraded once the connection to the local broker is lost', async () => {
    const clients: Client[] = [];
    broker.on('client', (client) => clients.push(client));
    const bridge = startBridgeIntake();
    await pollUntil(async () => bridge.mqtt.state() === 'subscribed', 'the subscription');

    for (const client of clients) client.close();

    await pollUntil(async () => bridge.mqtt.state() !== 'subscribed', 'the bridge to notice');
    expect((await bridge.healthz()).status).toBe(503);
    // It reconnects on its own (after a second) and subscribes again.
    await pollUntil(async () => bridge.mqtt.state() === 'subscribed', 'the bridge to subscribe again');
  });
});
