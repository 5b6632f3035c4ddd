/**
 * The ingest node's public face: build a node without listening (for tests and
 * embedding), start one from configuration, and its transports.
 */

export { limitsOf } from '../src/protocol/limits.js';
export { openStore } from '../src/store/open-store.js';
export type { IngestDeps, IngestNode } from './build-ingest.js';
export { buildIngest, MAX_BATCH_MESSAGES } from './build-ingest.js';
export { IngestMetrics } from './ingest-metrics.js';
export type { BrokerLogger, EmbeddedBroker, EmbeddedBrokerOptions } from './mqtt/embedded-broker.js';
export { startEmbeddedBroker } from './mqtt/embedded-broker.js';
export type { ExternalSubscriber, ExternalSubscriberOptions, SubscriberLogger } from './mqtt/external-subscriber.js';
export { startExternalSubscriber } from './mqtt/external-subscriber.js';
export type { RunningNode } from './start-node.js';
export { startNode } from './start-node.js';
