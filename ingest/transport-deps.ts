import type { IngestPipeline } from '../src/pipeline/ingest-pipeline.js';
import type { ProtocolLimits } from '../src/protocol/limits.js';
import type { IngestMetrics } from './ingest-metrics.js';

/**
 * What a transport is handed by the composition root, and nothing more: the
 * pipeline every message goes through, the metrics it counts into, the
 * limits it enforces before the pipeline, the node's clock, and whether the
 * node is draining.
 */
export interface TransportDeps {
  readonly pipeline: Pick<IngestPipeline, 'handle'>;
  readonly metrics: Pick<
    IngestMetrics,
    'rejected' | 'mqttConnections' | 'acknowledged' | 'connectionRefused' | 'observePausedConnections'
  >;
  readonly limits: ProtocolLimits;
  readonly now: () => number;
  readonly draining: () => boolean;
}
