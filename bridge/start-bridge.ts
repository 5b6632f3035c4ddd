import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { type Logger, pino } from 'pino';
import { ConfigError, DEFAULT_LIMITS } from '../src/index.js';
import { BridgeMetrics } from './bridge-metrics.js';
import { Forwarder } from './forward/forwarder.js';
import { NodeClient } from './forward/node-client.js';
import { NodeMqttClient } from './forward/node-mqtt-client.js';
import { buildBridgeHttpApp } from './intake/bridge-http-app.js';
import { type MqttIntake, startMqttIntake } from './intake/mqtt-intake.js';
import { DeviceKeysFolder } from './keys/device-keys-folder.js';
import { parseRules } from './mapping/generic-rule.js';
import type { MqttMapping } from './mapping/mqtt-mapping.js';
import { shellyMapping } from './mapping/shelly-mapping.js';
import { tasmotaMapping } from './mapping/tasmota-mapping.js';
import { zigbee2mqttMapping } from './mapping/zigbee2mqtt-mapping.js';
import { ReadingIntake } from './reading-intake.js';
import { type BridgeSettings, type BuiltInMapping, parseMappingList } from './settings/bridge-settings.js';
import { ReadingJournal } from './state/reading-journal.js';
import { SeqFile } from './state/seq-file.js';

/** A running bridge. */
export interface RunningBridge {
  /** Where its local HTTP endpoint, /metrics and /healthz answer. */
  readonly httpUrl: string;
  /** Stops taking input, finishes the round in flight, and closes the backlog. */
  stop(): Promise<void>;
}

const BUILT_INS: Readonly<Record<BuiltInMapping, (prefix: string) => MqttMapping>> = {
  tasmota: tasmotaMapping,
  shelly: shellyMapping,
  zigbee2mqtt: zigbee2mqttMapping,
};

/** The MQTT mappings the settings ask for: built-ins first, then the rules file's. */
async function mappingsOf(settings: BridgeSettings): Promise<MqttMapping[]> {
  const builtIns = (parseMappingList(settings.mappings) ?? []).map((name) => BUILT_INS[name](settings.devicePrefix));
  if (settings.rules === '') return builtIns;
  let text: string;
  try {
    text = await readFile(settings.rules, 'utf8');
  } catch (error) {
    throw new ConfigError([
      `TELEMETRY_BRIDGE_RULES ${settings.rules} cannot be read (${(error as { code?: string }).code ?? 'error'})`,
    ]);
  }
  const { mappings, problems } = parseRules(text, settings.devicePrefix);
  if (problems.length > 0) throw new ConfigError(problems.map((p) => `TELEMETRY_BRIDGE_RULES ${settings.rules}: ${p}`));
  return [...builtIns, ...mappings];
}

/**
 * Starts a signing bridge: the durable backlog and seqs from the state
 * folder, the device keys, the forwarder to the node, the subscription on the
 * local broker, and the local HTTP endpoint.
 */
export async function startBridge(
  settings: BridgeSettings,
  logger: Logger = bridgeLogger(settings),
): Promise<RunningBridge> {
  const mappings = await mappingsOf(settings);
  const stateDir = resolve(settings.stateDir);
  const metrics = new BridgeMetrics();
  const journal = ReadingJournal.open(join(stateDir, 'backlog'), settings.backlogBytes);
  metrics.loaded.inc(journal.loaded);
  metrics.waiting.set(journal.size);
  metrics.waitingBytes.set(journal.bytes);
  const keys = new DeviceKeysFolder({
    dir: settings.keysDir === '' ? join(stateDir, 'keys') : resolve(settings.keysDir),
    create: settings.newKeys === 'create',
    alg: settings.keyAlg,
    registry: settings.registry === '' ? undefined : resolve(settings.registry),
    onCreated: (device, kid) => {
      metrics.keysCreated.inc();
      logger.info({ device, kid }, 'created a key for a new device');
    },
  });
  const client = new NodeClient(settings.nodeUrl, settings.requestTimeoutSeconds * 1000);
  const upstream =
    settings.nodeMqttUrl === ''
      ? undefined
      : new NodeMqttClient({
          url: settings.nodeMqttUrl,
          maxConnections: settings.nodeMqttConnections,
          idleMs: settings.nodeMqttIdleSeconds * 1000,
          tokenTtlSeconds: settings.nodeMqttTokenTtlSeconds,
          audience: settings.nodeMqttAudience,
          answerTimeoutMs: settings.requestTimeoutSeconds * 1000,
          metrics,
          logger,
          now: Date.now,
        });
  const forwarder = new Forwarder({
    journal,
    keys,
    seqs: new SeqFile(stateDir),
    client,
    mqtt: upstream,
    metrics,
    logger,
    limits: {
      maxReadingsPerMessage: Math.min(settings.maxReadingsPerMessage, DEFAULT_LIMITS.maxReadingsPerMessage),
      maxMessageBytes: settings.maxMessageBytes,
    },
    batchMessages: settings.batchMessages,
    backoff: { baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs },
    newKeyGraceMs: settings.newKeyGraceSeconds * 1000,
    now: Date.now,
  });
  const intake = new ReadingIntake({ journal, keys, metrics, logger, now: Date.now, added: () => forwarder.poke() });
  let mqtt: MqttIntake | undefined;
  const app = buildBridgeHttpApp({
    intake,
    metrics,
    logger,
    devicePrefix: settings.devicePrefix,
    health: () => ({
      mqtt: mqtt === undefined ? 'off' : mqtt.state(),
      backlog: journal.size,
    }),
  });
  await app.listen({ host: settings.httpHost, port: settings.httpPort });
  forwarder.start();
  if (settings.mqttUrl !== '' && mappings.length > 0) {
    mqtt = startMqttIntake(
      {
        url: settings.mqttUrl,
        clientId: settings.mqttClientId,
        username: settings.mqttUsername,
        password: settings.mqttPassword,
        mappings,
      },
      intake,
      metrics,
      logger,
    );
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const httpUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
  logger.info(
    {
      http: httpUrl,
      node: upstream === undefined ? settings.nodeUrl : settings.nodeMqttUrl,
      mqtt: settings.mqttUrl || 'off',
      backlog: journal.loaded,
    },
    'bridge running',
  );
  let stopping: Promise<void> | undefined;
  return {
    httpUrl,
    stop() {
      stopping ??= (async () => {
        await mqtt?.close();
        await app.close();
        await forwarder.stop();
        await upstream?.close();
        client.close();
        journal.close();
      })();
      return stopping;
    },
  };
}

/** The bridge's logger; the local broker's password is never logged. */
function bridgeLogger(settings: BridgeSettings): Logger {
  return pino({
    level: settings.logLevel,
    redact: { paths: ['mqttPassword', '*.mqttPassword', 'password', '*.password'], censor: '[redacted]' },
  });
}
