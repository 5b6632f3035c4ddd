import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { JwksRegistry } from '../src/identity/jwks-registry.js';
import { buildHttpApp } from './build-http-app.js';
import { buildNodeCore, type NodeCore, type NodeCoreDeps } from './node-core.js';

/** Everything a node is built from; tests pass their own clock, store and keys. */
export interface IngestDeps extends NodeCoreDeps {
  /** Operator issuer keys for the query API; without them it answers 401 to everything. */
  readonly operatorIssuers?: () => JwksRegistry;
  /** A pino logger, or false for none. */
  readonly logger?: FastifyBaseLogger | false;
}

/** A node built but not listening: inject requests into `app`, hand it to the MQTT transports, or listen on it. */
export interface IngestNode extends Omit<NodeCore, 'drain'> {
  readonly app: FastifyInstance;
  /** Drains, waits for in-flight writes up to `timeoutMs`, and closes the HTTP server. The store is the caller's. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * The node's composition root: the transport-independent core (pipeline,
 * batch writer, metrics, draining), then the HTTP app on top of it. The MQTT
 * transports are started from the returned node by ingest/start-node.ts and
 * are handed only what they use.
 */
export async function buildIngest(deps: IngestDeps): Promise<IngestNode> {
  const core = buildNodeCore(deps);
  const app = await buildHttpApp(core, deps);
  const { drain, ...rest } = core;
  return {
    ...rest,
    app,
    async close(timeoutMs = deps.config.shutdownTimeoutSeconds * 1000) {
      await drain(timeoutMs);
      await app.close();
    },
  };
}
