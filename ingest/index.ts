/**
 * The ingest node's public face: build a node without listening (for tests and
 * embedding), start one from configuration, and its transports.
 */

export { MAX_BATCH_MESSAGES } from './build-http-app.js';
export type { IngestDeps, IngestNode } from './build-ingest.js';
export { buildIngest } from './build-ingest.js';
export type { BrokerLogger, EmbeddedBroker, EmbeddedBrokerOptions } from './mqtt/embedded-broker.js';
export { startEmbeddedBroker } from './mqtt/embedded-broker.js';
export type { ExternalSubscriber, ExternalSubscriberOptions, SubscriberLogger } from './mqtt/external-subscriber.js';
export { startExternalSubscriber } from './mqtt/external-subscriber.js';
export type { RunningNode } from './start-node.js';
export { startNode } from './start-node.js';
export type { TransportDeps } from './transport-deps.js';
