import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { pino } from 'pino';
import type { Config } from '../src/config/config-schema.js';
import { openKeySources } from '../src/identity/open-key-sources.js';
import { openStore } from '../src/store/open-store.js';
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

/**
 * Starts a node from its configuration: opens the store and key sources,
 * builds the pipeline and listens. The process entry point adds signal handling.
 */
export async function startNode(config: Config): Promise<RunningNode> {
  const logger = pino({
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
  const keys = await openKeySources(config, (error) =>
    logger.warn({ err: error }, 'key set refresh failed; keeping the previous one'),
  );
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
  await node.app.listen({ host: config.httpHost, port: config.httpPort });
  const address = node.app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const httpUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
  // MQTT after HTTP, so /readyz answers while the broker comes up.
  const transports: Array<{ close(): Promise<void> }> = [];
  let mqttUrl: string | undefined;
  try {
    if (config.mqtt === 'embedded') {
      const tls =
        config.mqttTlsPort < 0
          ? undefined
          : {
              port: config.mqttTlsPort,
              cert: await readFile(config.mqttTlsCert),
              key: await readFile(config.mqttTlsKey),
            };
      const broker = await startEmbeddedBroker(node, {
        keys: keys.deviceKeys,
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
      transports.push(broker);
      const mqttHost = config.mqttHost === '0.0.0.0' ? '127.0.0.1' : config.mqttHost;
      mqttUrl = `mqtt://${mqttHost}:${broker.tcpPort}`;
    } else if (config.mqtt === 'external') {
      transports.push(
        await startExternalSubscriber(node, {
          url: config.mqttBrokerUrl,
          shareGroup: config.mqttShareGroup,
          clientId: config.mqttClientId === '' ? `telemetry-ingest-${hostname()}` : config.mqttClientId,
          connections: config.mqttConnections,
          sessionExpirySeconds: config.mqttSessionExpirySeconds,
          logger,
        }),
      );
      mqttUrl = config.mqttBrokerUrl;
    }
  } catch (error) {
    for (const transport of transports) await transport.close();
    await node.close();
    keys.close();
    await store.close();
    throw error;
  }
  logger.info({ http: httpUrl, mqtt: mqttUrl ?? 'off', store: config.store }, 'ingest node listening');

  let stopping: Promise<void> | undefined;
  return {
    node,
    httpUrl,
    mqttUrl,
    stop() {
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
    },
  };
}
