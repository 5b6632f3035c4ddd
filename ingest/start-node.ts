import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { createSecureContext } from 'node:tls';
import { type Logger, pino } from 'pino';
import type { Config } from '../src/config/config-schema.js';
import { settingProblem, shownValue } from '../src/config/setting-problem.js';
import { ConfigError } from '../src/errors.js';
import type { DeviceKeys } from '../src/identity/device-keys.js';
import { type KeySourceEvents, type KeySources, openKeySources } from '../src/identity/open-key-sources.js';
import { openStore } from '../src/store/open-store.js';
import type { TelemetryStore } from '../src/store/telemetry-store.js';
import { buildIngest, type IngestNode } from './build-ingest.js';
import { ListenFailure, listenAs, listenFailureProblem } from './listen-failure.js';
import { startEmbeddedBroker } from './mqtt/embedded-broker.js';
import { startExternalSubscriber } from './mqtt/external-subscriber.js';

/** A listening node and how to stop it. */
export interface RunningNode {
  readonly node: IngestNode;
  /** A URL that reaches the HTTP API from this machine (a wildcard address as 127.0.0.1). */
  readonly httpUrl: string;
  /** The HTTP address as bound, e.g. http://0.0.0.0:8080. */
  readonly httpListening: string;
  /** Where devices connect (embedded broker) or where the node subscribes (external); undefined with MQTT off. */
  readonly mqttUrl: string | undefined;
  /** The MQTT address as bound (embedded broker), or the external broker without secrets; undefined with MQTT off. */
  readonly mqttListening: string | undefined;
  /** Graceful stop: readiness false, stop taking messages, finish in-flight writes, close everything. */
  stop(): Promise<void>;
}

/** Something the node started that stop() closes: the embedded broker or the external subscription. */
interface Transport {
  close(): Promise<void>;
}

/** Where this node runs, as the command that starts it knows. */
export interface NodePlace {
  /** The worker's number when `serve` runs several (TELEMETRY_WORKERS); each makes its own broker connections. */
  readonly worker?: number;
}

/** The MQTT transport the configuration chose, and where it is reached. */
interface StartedMqtt extends ListenAddress {
  readonly transport: Transport;
}

/**
 * Starts a node from its configuration: opens the store and key sources,
 * builds the pipeline and listens. The process entry point adds signal handling.
 * Whatever the configuration names and the node cannot use (a key set that
 * does not load, a TLS file, a port in use, a store that does not open) fails
 * the start with a ConfigError naming the setting, its value and what to do;
 * whatever was opened by then is closed again.
 */
export async function startNode(config: Config, place: NodePlace = {}): Promise<RunningNode> {
  const logger = nodeLogger(config);
  // Refreshes run on timers, after the node (and its metrics) exist.
  let countRefreshFailure = (): void => {};
  const keys = await openKeySources(
    config,
    keySourceLog(logger, () => countRefreshFailure()),
  );
  const opened: Array<() => Promise<void> | void> = [() => keys.close()];
  const closeOpened = async () => {
    for (const close of opened.reverse()) await close();
  };
  try {
    const store = await openConfiguredStore(config);
    opened.push(() => store.close());
    const { operatorIssuers } = keys;
    const node = await buildIngest({
      config,
      store,
      keys: keys.deviceKeys,
      ...(operatorIssuers === undefined ? {} : { operatorIssuers: () => operatorIssuers.current }),
      logger,
      processMetrics: true,
    });
    opened.push(() => node.close());
    countRefreshFailure = () => node.metrics.keySourceRefreshFailed();
    const http = await listenHttp(node, config);
    // MQTT after HTTP, so /readyz answers while the broker comes up.
    const transports: Transport[] = [];
    const mqtt = await startMqtt(config, node, keys.deviceKeys, logger, place.worker);
    if (mqtt !== undefined) transports.push(mqtt.transport);
    logger.info({ http: http.listening, mqtt: mqtt?.listening ?? 'off', store: config.store }, 'ingest node listening');
    return {
      node,
      httpUrl: http.url,
      httpListening: http.listening,
      mqttUrl: mqtt?.url,
      mqttListening: mqtt?.listening,
      stop: stopOnce(node, transports, keys, store),
    };
  } catch (error) {
    await closeOpened();
    throw error instanceof ListenFailure ? listenFailureProblem(error) : error;
  }
}

/** The key sets' background events as log lines (a failure when it starts, and when it ends), each failure counted. */
function keySourceLog(logger: Logger, countFailure: () => void): KeySourceEvents {
  return {
    refreshFailed(error, origin, firstInARow) {
      countFailure();
      const fields = { setting: origin.setting, location: origin.location, error: errorText(error) };
      if (firstInARow) logger.warn(fields, 'key source refresh failed; keeping the previous keys');
      else logger.debug(fields, 'key source refresh failed again');
    },
    refreshRecovered(origin) {
      logger.info({ setting: origin.setting, location: origin.location }, 'key source refreshed again');
    },
  };
}

/** An error's message, for a log line: ours never hold a key, a token or a payload. */
function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The store TELEMETRY_STORE names; one that cannot be opened fails the start naming its setting. */
async function openConfiguredStore(config: Config): Promise<TelemetryStore> {
  try {
    return await openStore(config);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const reason = error instanceof Error ? (error.message.split('\n', 1)[0] ?? '') : String(error);
    const problem =
      config.store === 'embedded'
        ? settingProblem(
            'dataDir',
            config.dataDir,
            `cannot open the embedded store in this folder (${reason})`,
            'make the folder writable, stop any other process that has its telemetry.duckdb open (one node per folder), or choose another folder',
          )
        : settingProblem(
            'influxUrl',
            config.influxUrl,
            `cannot set up the ${config.store} store (${reason})`,
            'set the http(s) URL of the store',
          );
    throw new ConfigError([problem], { heading: 'cannot start', cause: error });
  }
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

/** Where a listener listens (a wildcard host as it is) and a URL a client on this machine reaches it at. */
interface ListenAddress {
  /** e.g. `http://0.0.0.0:8080`: the address bound, for operators. */
  readonly listening: string;
  /** e.g. `http://127.0.0.1:8080`: the same, reachable (a wildcard host as loopback). */
  readonly url: string;
}

/** A host and port as a URL's authority, once as bound and once as reachable from this machine. */
function addressOf(scheme: string, host: string, port: number): ListenAddress {
  const bracketed = (h: string) => (h.includes(':') ? `[${h}]` : h);
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return {
    listening: `${scheme}://${bracketed(host)}:${port}`,
    url: `${scheme}://${bracketed(reachable)}:${port}`,
  };
}

/** Listens on the configured HTTP address. */
async function listenHttp(node: IngestNode, config: Config): Promise<ListenAddress> {
  await listenAs('http', config.httpHost, config.httpPort, () =>
    node.app.listen({ host: config.httpHost, port: config.httpPort }),
  );
  const address = node.app.server.address() as AddressInfo;
  return addressOf('http', address.address, address.port);
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
    return { transport: subscriber, url: config.mqttBrokerUrl, listening: shownValue(config.mqttBrokerUrl) };
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
  const tls = config.mqttTlsPort < 0 ? undefined : { port: config.mqttTlsPort, ...(await readTlsFiles(config)) };
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
  return { transport: broker, ...addressOf('mqtt', config.mqttHost, broker.tcpPort) };
}

/**
 * The TLS certificate chain and key files, read and checked as a pair; each
 * that cannot be read, or a pair TLS cannot use, fails the start naming the setting.
 */
async function readTlsFiles(config: Config): Promise<{ cert: Buffer; key: Buffer }> {
  const files = [
    ['mqttTlsCert', 'the PEM certificate chain file'],
    ['mqttTlsKey', 'the PEM private key file'],
  ] as const;
  const read = await Promise.allSettled(files.map(([key]) => readFile(config[key])));
  const problems = read.flatMap((result, i) => {
    if (result.status === 'fulfilled') return [];
    const [key, what] = files[i] as (typeof files)[number];
    return [settingProblem(key, config[key], fileReason(result.reason), `point it at ${what}`)];
  });
  if (problems.length > 0) throw new ConfigError(problems, { heading: 'cannot start' });
  const [cert, key] = read.map((r) => (r as PromiseFulfilledResult<Buffer>).value) as [Buffer, Buffer];
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ConfigError(
      [
        settingProblem(
          'mqttTlsCert',
          config.mqttTlsCert,
          `TLS cannot use it with TELEMETRY_MQTT_TLS_KEY = ${shownValue(config.mqttTlsKey)} (${typeof code === 'string' ? code : 'unexpected failure'})`,
          'give a PEM certificate chain and the PEM private key that belongs to it',
        ),
      ],
      { heading: 'cannot start', cause: error },
    );
  }
  return { cert, key };
}

/** Why a file could not be read, by its error code, never its contents. */
function fileReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a folder, not a file';
  return `cannot read the file (${typeof code === 'string' ? code : 'unexpected failure'})`;
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
