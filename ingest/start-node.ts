import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { type Logger, pino } from 'pino';
import type { Config } from '../src/config/config-schema.js';
import type { DeviceKeys } from '../src/identity/device-keys.js';
import { type KeySources, openKeySources } from '../src/identity/open-key-sources.js';
import { openStore } from '../src/store/open-store.js';
import type { TelemetryStore } from '../src/store/telemetry-store.js';
import { buildIngest, type IngestNode } from './build-ingest.js';
import { startEmbeddedBroker } from './mqtt/embedded-broker.js';
import { startExternalSubscriber } from './mqtt/external-subscriber.js';

/** A listening node and how to stop it. */
export interface RunningNode {
  readonly node: IngestNode;
  readonly httpUrl: string;
  /** Where devices connect (embedded broker) or where the node subscribes (external); undefined with MQTT off. */
  readonly mqttUrl: string | undefined;
  /** Graceful stop: readiness false, stop taking messages, finish in-flight writes, close everything. */
  stop(): Promise<void>;
}

/** Something the node started that stop() closes: the embedded broker or the external subscription. */
interface Transport {
  close(): Promise<void>;
}

/** The MQTT transport the configuration chose, and the URL it is reached at. */
/** Where this node runs, as the command that starts it knows. */
export interface NodePlace {
  /** The worker's number when `serve` runs several (TELEMETRY_WORKERS); each makes its own broker connections. */
  readonly worker?: number;
}

interface StartedMqtt {
  readonly transport: Transport;
  readonly url: string;
}

/**
 * Starts a node from its configuration: opens the store and key sources,
 * builds the pipeline and listens. The process entry point adds signal handling.
 */
export async function startNode(config: Config, place: NodePlace = {}): Promise<RunningNode> {
  const logger = nodeLogger(config);
  // Refreshes run on timers, after the node (and its metrics) exist.
  let countRefreshFailure = (): void => {};
  const keys = await openKeySources(config, (error) => {
    countRefreshFailure();
    logger.warn({ err: error }, 'key set refresh failed; keeping the previous one');
  });
  const store = await openStore(config);
  const { operatorIssuers } = keys;
  const node = await buildIngest({
    config,
    store,
    keys: keys.deviceKeys,
    ...(operatorIssuers === undefined ? {} : { operatorIssuers: () => operatorIssuers.current }),
    logger,
    processMetrics: true,
  });
  countRefreshFailure = () => node.metrics.keySourceRefreshFailed();
  const httpUrl = await listenHttp(node, config);
  // MQTT after HTTP, so /readyz answers while the broker comes up.
  const transports: Transport[] = [];
  let mqttUrl: string | undefined;
  try {
    const mqtt = await startMqtt(config, node, keys.deviceKeys, logger, place.worker);
    if (mqtt !== undefined) {
      transports.push(mqtt.transport);
      mqttUrl = mqtt.url;
    }
  } catch (error) {
    for (const transport of transports) await transport.close();
    await node.close();
    keys.close();
    await store.close();
    throw error;
  }
  logger.info({ http: httpUrl, mqtt: mqttUrl ?? 'off', store: config.store }, 'ingest node listening');
  return { node, httpUrl, mqttUrl, stop: stopOnce(node, transports, keys, store) };
}

/** The node's logger, with every secret a log line could carry redacted. */
function nodeLogger(config: Config): Logger {
  return pino({
    level: config.logLevel,
    redact: {
      // The store's secrets as settings (a config logged whole, or in part) and as adapter options.
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        'password',
        'token',
        'influxPassword',
        'influxToken',
        '*.password',
        '*.token',
        '*.influxPassword',
        '*.influxToken',
      ],
      censor: '[redacted]',
    },
  });
}

/** Listens on the configured HTTP address; the URL it answers at (a wildcard host as 127.0.0.1). */
async function listenHttp(node: IngestNode, config: Config): Promise<string> {
  await node.app.listen({ host: config.httpHost, port: config.httpPort });
  const address = node.app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
}

/**
 * This process's client id on the external broker: the configured one (with `-w<worker id>` in a worker, since
 * every worker connects on its own), else `telemetry-ingest-<hostname>-<pid>`. Sessions end with the connection,
 * so the id only has to be unique among the connections of the moment, not stable across restarts.
 */
function externalClientId(configured: string, worker: number | undefined): string {
  if (configured === '') return `telemetry-ingest-${hostname()}-${process.pid}`;
  return worker === undefined ? configured : `${configured}-w${worker}`;
}

/** Starts the MQTT transport TELEMETRY_MQTT names: the embedded broker, the external subscription, or none. */
async function startMqtt(
  config: Config,
  node: IngestNode,
  deviceKeys: DeviceKeys,
  logger: Logger,
  worker: number | undefined,
): Promise<StartedMqtt | undefined> {
  if (config.mqtt === 'embedded') return startBroker(config, node, deviceKeys, logger);
  if (config.mqtt === 'external') {
    const subscriber = await startExternalSubscriber(node, {
      url: config.mqttBrokerUrl,
      shareGroup: config.mqttShareGroup,
      clientId: externalClientId(config.mqttClientId, worker),
      connections: config.mqttConnections,
      receiveMaximum: config.mqttReceiveMaximum,
      ...(config.mqttUsername === '' ? {} : { username: config.mqttUsername }),
      ...(config.mqttPassword === '' ? {} : { password: config.mqttPassword }),
      maximumPacketSize: config.maxMessageBytes + 4_096,
      logger,
    });
    return { transport: subscriber, url: config.mqttBrokerUrl };
  }
  return undefined;
}

/** The embedded broker devices connect to, with TLS and WebSocket listeners when configured. */
async function startBroker(
  config: Config,
  node: IngestNode,
  deviceKeys: DeviceKeys,
  logger: Logger,
): Promise<StartedMqtt> {
  const tls =
    config.mqttTlsPort < 0
      ? undefined
      : {
          port: config.mqttTlsPort,
          cert: await readFile(config.mqttTlsCert),
          key: await readFile(config.mqttTlsKey),
        };
  const broker = await startEmbeddedBroker(node, {
    keys: deviceKeys,
    host: config.mqttHost,
    port: config.mqttPort,
    ...(tls === undefined ? {} : { tls }),
    ...(config.mqttWsPort < 0 ? {} : { wsPort: config.mqttWsPort }),
    tokenAudience: config.tokenAudience,
    maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
    clockSkewSeconds: config.clockSkewSeconds,
    maxPendingPerConnection: config.mqttMaxPendingPerConnection,
    logger,
  });
  const mqttHost = config.mqttHost === '0.0.0.0' ? '127.0.0.1' : config.mqttHost;
  return { transport: broker, url: `mqtt://${mqttHost}:${broker.tcpPort}` };
}

/** RunningNode.stop: the graceful stop, run once however often it is called. */
function stopOnce(
  node: IngestNode,
  transports: readonly Transport[],
  keys: KeySources,
  store: TelemetryStore,
): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      // Readiness turns false and new messages are refused first; then the transports close
      // (letting in-flight messages settle), then whatever is still being written drains.
      node.beginDrain();
      for (const transport of transports) await transport.close();
      await node.close();
      keys.close();
      await store.close();
    })();
    return stopping;
  };
}
