import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Config } from '../src/config/config-schema.js';
import { buildIngest, type IngestNode } from './build-ingest.js';
import { openKeySources } from './open-key-sources.js';
import { openStore } from './open-store.js';

/** A listening node and how to stop it. */
export interface RunningNode {
  readonly node: IngestNode;
  readonly httpUrl: string;
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
      paths: ['req.headers.authorization', 'headers.authorization', 'password', 'token'],
      censor: '[redacted]',
    },
  });
  const keys = await openKeySources(config, (error) =>
    logger.warn({ err: error }, 'key set refresh failed; keeping the previous one'),
  );
  const store = await openStore(config);
  const node = await buildIngest({ config, store, keys: keys.deviceKeys, logger, processMetrics: true });
  await node.app.listen({ host: config.httpHost, port: config.httpPort });
  const address = node.app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const httpUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
  logger.info({ http: httpUrl, store: config.store }, 'ingest node listening');

  let stopping: Promise<void> | undefined;
  return {
    node,
    httpUrl,
    stop() {
      stopping ??= (async () => {
        await node.close();
        keys.close();
        await store.close();
      })();
      return stopping;
    },
  };
}
