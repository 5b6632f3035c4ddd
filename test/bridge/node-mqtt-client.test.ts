import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import { decodeJwt } from 'jose';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BridgeMetrics } from '../../bridge/bridge-metrics.js';
import { Forwarder } from '../../bridge/forward/forwarder.js';
import { NodeClient } from '../../bridge/forward/node-client.js';
import { NodeMqttClient } from '../../bridge/forward/node-mqtt-client.js';
import { DeviceKeysFolder } from '../../bridge/keys/device-keys-folder.js';
import { ReadingJournal } from '../../bridge/state/reading-journal.js';
import { SeqFile } from '../../bridge/state/seq-file.js';
import {
  connectionTokenSchedule,
  type DeviceSigner,
  deviceSignerFromJwk,
  errorsTopic,
  generateKey,
  signMessage,
} from '../../src/index.js';
import { pollUntil } from '../support/poll-until.js';

/** A CONNECT the fake node saw. */
interface Connect {
  readonly device: string;
  readonly token: string;
}

type OnPublish = (client: Client, seq: number, puback: () => void) => void;

let broker: Aedes;
let server: Server;
let url: string;
let connects: Connect[];
let refuseWith: number | undefined;
let onPublish: OnPublish;
let metrics: BridgeMetrics;
let client: NodeMqttClient;
/** The injected clock of the bridge's side, ms. */
let clock: number;

const seqOf = (packet: PublishPacket): number => {
  const payload = String(packet.payload).split('.')[1] ?? '';
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { seq: number }).seq;
};

/** Publishes a notice on the device's errors topic, as a node does (PROTOCOL.md §10.1), and waits until it is written. */
const notify = (device: string, notice: object) =>
  new Promise<void>((resolve) =>
    broker.publish(
      {
        cmd: 'publish',
        topic: errorsTopic(device),
        payload: JSON.stringify(notice),
        qos: 0,
        retain: false,
        dup: false,
      },
      () => resolve(),
    ),
  );

const signers = new Map<string, DeviceSigner>();
async function signerOf(device: string): Promise<DeviceSigner> {
  let signer = signers.get(device);
  if (signer === undefined) {
    signer = await deviceSignerFromJwk((await generateKey('EdDSA', `${device}.k1`, device)).privateJwk);
    signers.set(device, signer);
  }
  return signer;
}

async function message(device: string, seq: number) {
  const signer = await signerOf(device);
  return { signer, seq, jws: await signMessage(signer, seq, [{ ts: 1_796_000_000_000 + seq, values: { t: seq } }]) };
}

function makeClient(overrides: Partial<ConstructorParameters<typeof NodeMqttClient>[0]> = {}): NodeMqttClient {
  return new NodeMqttClient({
    url,
    maxConnections: 8,
    idleMs: 60_000,
    tokenTtlSeconds: 3600,
    audience: 'telemetry-ingest',
    answerTimeoutMs: 300,
    metrics,
    logger: pino({ level: 'silent' }),
    now: () => clock,
    ...overrides,
  });
}

beforeEach(async () => {
  connects = [];
  refuseWith = undefined;
  clock = Date.now();
  onPublish = (_client, _seq, puback) => puback();
  metrics = new BridgeMetrics();
  // A fake node: aedes with the node's rules that matter here, scripted per test.
  broker = new Aedes({
    authenticate: (_client, username, password, callback) => {
      connects.push({ device: username ?? '', token: String(password) });
      if (refuseWith !== undefined) {
        return callback(Object.assign(new Error('refused'), { returnCode: refuseWith }) as never, null);
      }
      callback(null, true);
    },
    authorizePublish: (c, packet, callback) => {
      if (c === null) return callback(null);
      onPublish(c, seqOf(packet), () => callback(null));
    },
  });
  await broker.listen();
  server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `mqtt://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  client = makeClient();
});

afterEach(async () => {
  await client.close();
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('NodeMqttClient against a scripted embedded broker', () => {
  it('connects each device as itself, with a token its key signed, and counts a PUBACK as stored', async () => {
    const answers = await client.send([
      await message('dev-a', 1),
      await message('dev-b', 1),
      await message('dev-a', 2),
    ]);
    expect(answers.map((a) => a.outcome)).toEqual([
      { kind: 'acknowledged' },
      { kind: 'acknowledged' },
      { kind: 'acknowledged' },
    ]);
    expect(connects.map((c) => c.device).sort()).toEqual(['dev-a', 'dev-b']);
    for (const c of connects) expect(decodeJwt(c.token)).toMatchObject({ sub: c.device, aud: 'telemetry-ingest' });
    expect(metrics.registry.getSingleMetric('telemetry_bridge_node_requests_total')).toBeDefined();
    expect((await metrics.requests.get()).values).toEqual([
      { labels: { endpoint: 'mqtt', result: 'answered' }, value: 3 },
    ]);
  });

  it('never counts a withheld PUBACK as delivered: after the timeout the message is a retry, and a resend goes through', async () => {
    let withheld = 0;
    onPublish = (_client, _seq, puback) => {
      if (withheld++ === 0) return; // the node stalls: no PUBACK, ever
      puback();
    };
    const [first] = await client.send([await message('dev-a', 1)]);
    expect(first).toEqual({ answered: false, outcome: { kind: 'retry', code: 'MQTT_PUBACK_TIMEOUT' } });
    const [again] = await client.send([await message('dev-a', 1)]);
    expect(again?.outcome).toEqual({ kind: 'acknowledged' });
    // The stalled connection was dropped and a new one made.
    expect(connects).toHaveLength(2);
  });

  it('drops a message whose notice names its seq before the PUBACK, and keeps the others', async () => {
    onPublish = (c, seq, puback) => {
      if (seq !== 2) return puback();
      void notify(c.id, { seq, code: 'ERR_TIMESTAMP_UNIT', message: 'seconds?', retryable: false }).then(puback);
    };
    const answers = await client.send([
      await message('dev-a', 1),
      await message('dev-a', 2),
      await message('dev-a', 3),
    ]);
    expect(answers.map((a) => a.outcome)).toEqual([
      { kind: 'acknowledged' },
      { kind: 'rejected', code: 'ERR_TIMESTAMP_UNIT' },
      { kind: 'acknowledged' },
    ]);
  });

  it('takes a notice without a seq as about the message whose PUBACK comes next', async () => {
    onPublish = (c, _seq, puback) => {
      void notify(c.id, { seq: null, code: 'ERR_UNKNOWN_KEY', message: 'unknown kid', retryable: false }).then(puback);
    };
    const [answer] = await client.send([await message('dev-a', 1)]);
    expect(answer?.outcome).toEqual({ kind: 'rejected', code: 'ERR_UNKNOWN_KEY' });
  });

  it("honours a retry notice's retryAfter when the node withholds the PUBACK and closes, and sends nothing more of that device", async () => {
    let published = 0;
    onPublish = (c, seq, _puback) => {
      published++;
      void notify(c.id, {
        seq,
        code: 'ERR_STORE_UNAVAILABLE',
        message: 'store down',
        retryable: true,
        retryAfter: 7,
      }).then(() => c.close());
    };
    client = makeClient({ answerTimeoutMs: 5_000 });
    const answers = await client.send([await message('dev-a', 1), await message('dev-a', 2)]);
    for (const answer of answers) {
      expect(answer.outcome).toEqual({ kind: 'retry', code: 'ERR_STORE_UNAVAILABLE', retryAfterMs: 7_000 });
    }
    // The second message was in flight or not sent: either way it is a retry, never delivered.
    expect(published).toBeGreaterThanOrEqual(1);
  });

  it('reads CONNACK 5 as ERR_UNKNOWN_KEY (refused, subject to the new-key grace) and other refusals as retries', async () => {
    refuseWith = 5;
    const [unknown] = await client.send([await message('dev-a', 1)]);
    expect(unknown).toMatchObject({ answered: true, outcome: { kind: 'rejected', code: 'ERR_UNKNOWN_KEY' } });
    refuseWith = 3;
    const [busy] = await client.send([await message('dev-a', 2)]);
    expect(busy).toMatchObject({ answered: true, outcome: { kind: 'retry', code: 'MQTT_CONNACK_3' } });
    expect((await metrics.mqttConnects.get()).values).toEqual([{ labels: { result: 'refused' }, value: 2 }]);
  });

  it('keeps at most maxConnections open, whatever the number of devices', async () => {
    client = makeClient({ maxConnections: 2 });
    // The bridge's own count of open sockets: the fake node, in this same process, may see a close a tick late.
    const held = vi.spyOn(metrics.mqttConnections, 'set');
    const batch = await Promise.all(['d1', 'd2', 'd3', 'd4', 'd5'].map((d) => message(d, 1)));
    const answers = await client.send(batch);
    expect(answers.every((a) => a.outcome.kind === 'acknowledged')).toBe(true);
    expect(connects).toHaveLength(5);
    expect(Math.max(...held.mock.calls.map((call) => Number(call[0])))).toBe(2);
  });

  it('renews a connection with a fresh token once the token schedule says so, before the token expires', async () => {
    client = makeClient({ tokenTtlSeconds: 100 });
    await client.send([await message('dev-a', 1)]);
    const schedule = connectionTokenSchedule(clock, 100);
    // Just before renewAt: the same connection.
    clock = schedule.renewAt - 1;
    await client.send([await message('dev-a', 2)]);
    expect(connects).toHaveLength(1);
    // At renewAt, still well before exp: a new connection with a new token.
    clock = schedule.renewAt;
    expect(clock).toBeLessThan(schedule.expiresAt);
    const [answer] = await client.send([await message('dev-a', 3)]);
    expect(answer?.outcome).toEqual({ kind: 'acknowledged' });
    expect(connects).toHaveLength(2);
    const [first, second] = connects.map((c) => decodeJwt(c.token));
    expect(first?.exp).toBe(schedule.expiresAt / 1000);
    expect(second?.iat).toBe(Math.floor(schedule.renewAt / 1000));
    expect((await metrics.mqttTokenRenewals.get()).values[0]?.value).toBe(1);
  });
});

describe('the forwarder over MQTT', () => {
  it('keeps a reading in the backlog until its PUBACK: a withheld one is resent after the timeout and a backoff, then acknowledged once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'forwarder-mqtt-'));
    const journal = ReadingJournal.open(join(dir, 'backlog'), 1_000_000);
    const published: { seq: number; at: number }[] = [];
    onPublish = (_client, seq, puback) => {
      published.push({ seq, at: Date.now() });
      if (published.length > 1) puback(); // the first PUBACK is withheld: the node stalled
    };
    const upstream = makeClient({ now: Date.now });
    const forwarder = new Forwarder({
      journal,
      keys: new DeviceKeysFolder({
        dir: join(dir, 'keys'),
        create: true,
        alg: 'EdDSA',
        registry: undefined,
        onCreated: () => {},
      }),
      seqs: new SeqFile(dir),
      // Never used: every message goes over MQTT.
      client: new NodeClient('http://127.0.0.1:9', 1_000),
      mqtt: upstream,
      metrics,
      logger: pino({ level: 'silent' }),
      limits: { maxReadingsPerMessage: 10, maxMessageBytes: 65_536 },
      batchMessages: 10,
      backoff: { baseMs: 200, maxMs: 400 },
      newKeyGraceMs: 0,
      now: Date.now,
    });
    try {
      journal.append([{ device: 'dev-a', ts: 1_796_420_000_000, values: { v: 1 } }]);
      forwarder.start();
      await pollUntil(async () => published.length >= 1, 'the first publish');
      // While its PUBACK is withheld the reading stays in the backlog, not counted as delivered.
      expect(journal.size).toBe(1);
      expect((await metrics.acknowledged.get()).values[0]?.value ?? 0).toBe(0);
      await pollUntil(async () => journal.size === 0, 'the resent reading to be acknowledged');
      expect(published.map((p) => p.seq)).toHaveLength(2);
      // Resent only after the PUBACK timeout (300 ms), and counted once.
      expect((published[1]?.at ?? 0) - (published[0]?.at ?? 0)).toBeGreaterThanOrEqual(300);
      expect((await metrics.acknowledged.get()).values[0]?.value).toBe(1);
      expect((await metrics.retries.get()).values).toEqual([{ labels: { code: 'MQTT_PUBACK_TIMEOUT' }, value: 1 }]);
      expect((await metrics.requests.get()).values).toEqual(
        expect.arrayContaining([
          { labels: { endpoint: 'mqtt', result: 'no_answer' }, value: 1 },
          { labels: { endpoint: 'mqtt', result: 'answered' }, value: 1 },
        ]),
      );
    } finally {
      await forwarder.stop();
      await upstream.close();
      journal.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
