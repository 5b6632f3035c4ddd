/**
 * Measures how many messages a second one ingest node in external-broker mode stores, for several
 * TELEMETRY_MQTT_CONNECTIONS values: the node subscribes (creating its persistent sessions) and is killed, a backlog
 * of signed one-reading messages is published to Mosquitto, and the node is started again and timed (from its
 * first look at its own counter to the last message) while it works the backlog off into VictoriaMetrics.
 *
 * @example
 * npx tsx scripts/measure-external-broker.ts            # 1 4 8 16 32 connections, 3000 messages
 * TELEMETRY_BATCH_MAX_WAIT_MS=5 npx tsx scripts/measure-external-broker.ts 1 8 -- 5000
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { signMessage } from '../src/index.js';
import { messagesTopic } from '../src/protocol/topics.js';
import { makeDevice } from '../test/support/devices.js';
import { startMosquitto } from '../test/support/mosquitto-server.js';
import { pollUntil } from '../test/support/poll-until.js';
import { acceptedBy, type ServeProcess, startServe } from '../test/support/serve-process.js';
import { startVictoriaMetrics } from '../test/support/victoria-metrics-server.js';

const args = process.argv.slice(2);
const split = args.indexOf('--');
const counts = (split < 0 ? args : args.slice(0, split)).map(Number);
const connections = counts.length > 0 ? counts : [1, 4, 8, 16, 32];
const backlog = split < 0 ? 3_000 : Number(args[split + 1]);
const batchWaitMs = process.env.TELEMETRY_BATCH_MAX_WAIT_MS ?? '20';

const accepted = (node: ServeProcess): Promise<number> => acceptedBy(node, 'mqtt');

const [vm, broker] = await Promise.all([startVictoriaMetrics(), startMosquitto()]);
const dir = await mkdtemp(join(tmpdir(), 'measure-external-broker-'));
try {
  const devices = await Promise.all(
    Array.from({ length: 10 }, (_, n) => makeDevice(`measure-${n}`, n % 2 === 0 ? 'ES256' : 'EdDSA')),
  );
  await writeFile(join(dir, 'registry.jwks.json'), JSON.stringify({ keys: devices.map((d) => d.publicJwk) }));
  const publisher = await connectAsync(broker.url, { protocolVersion: 4, clientId: 'measure-publisher' });
  const start = Date.now() - 3_600_000;
  let sent = 0;
  console.log(`backlog ${backlog} messages (1 reading each), batch wait ${batchWaitMs} ms`);
  for (const n of connections) {
    const serve = () =>
      startServe({
        cwd: dir,
        env: {
          TELEMETRY_MQTT: 'external',
          TELEMETRY_MQTT_BROKER_URL: broker.url,
          TELEMETRY_MQTT_SHARE_GROUP: `measure-${n}`,
          TELEMETRY_MQTT_CLIENT_ID: `measure-${n}`,
          TELEMETRY_MQTT_CONNECTIONS: String(n),
          TELEMETRY_STORE: 'influxdb',
          TELEMETRY_INFLUX_URL: vm.url,
          TELEMETRY_INFLUX_QUERY: 'victoriametrics',
          TELEMETRY_KEY_REGISTRY: join(dir, 'registry.jwks.json'),
          TELEMETRY_DATA_DIR: join(dir, `node-${n}`),
          TELEMETRY_BATCH_MAX_WAIT_MS: batchWaitMs,
          TELEMETRY_LOG_LEVEL: 'warn',
        },
      });
    // Subscribed once, then killed: the broker queues the backlog in the node's sessions.
    await (await serve()).stop('SIGKILL');
    for (let i = 0; i < backlog; i++, sent++) {
      const device = devices[i % devices.length] as (typeof devices)[number];
      const message = await signMessage(device.signer, sent, [{ ts: start + sent, values: { n: i } }]);
      await publisher.publishAsync(messagesTopic(device.id), message, { qos: 1 });
    }
    const node = await serve();
    const [began, before] = [Date.now(), await accepted(node)];
    await pollUntil(async () => (await accepted(node)) >= backlog, 'the backlog to be stored', 300_000);
    const seconds = (Date.now() - began) / 1000;
    await node.stop('SIGTERM');
    console.log(
      `${String(n).padStart(2)} connection(s): ${backlog - before} messages in ${seconds.toFixed(2)} s = ${Math.round((backlog - before) / seconds)} messages/s`,
    );
  }
  await publisher.endAsync();
} finally {
  await Promise.all([vm.stop(), broker.stop()]);
  await rm(dir, { recursive: true, force: true });
}
