import type { Registry } from 'prom-client';
import type { NodeStatsResponse } from './stats-schema.js';

/** Which node answered, so that a client computing rates never mixes two nodes' counters. */
export interface NodeIdentity {
  readonly id: string;
  readonly startedAt: number;
}

type Sample = { readonly value: number; readonly labels: Readonly<Record<string, string | number | undefined>> };

async function samplesOf(registry: Registry, name: string): Promise<readonly Sample[]> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return [];
  return (await metric.get()).values;
}

function total(samples: readonly Sample[]): number {
  return samples.reduce((sum, sample) => sum + sample.value, 0);
}

function label(sample: Sample, name: string): string {
  return String(sample.labels[name] ?? '');
}

/**
 * Reads the node's own Prometheus counters (the ones `/metrics` exposes) into
 * the JSON the dashboard shows. Totals since the node started: a client gets
 * rates from two readings of the same node.
 */
export async function readNodeStats(registry: Registry, node: NodeIdentity, at: number): Promise<NodeStatsResponse> {
  const [accepted, rejected, written, inflight, connections] = await Promise.all([
    samplesOf(registry, 'telemetry_messages_accepted_total'),
    samplesOf(registry, 'telemetry_messages_rejected_total'),
    samplesOf(registry, 'telemetry_readings_written_total'),
    samplesOf(registry, 'telemetry_inflight_readings'),
    samplesOf(registry, 'telemetry_mqtt_connections'),
  ]);
  return {
    node: { id: node.id, startedAt: node.startedAt },
    at,
    readingsWritten: total(written),
    inflightReadings: total(inflight),
    mqttConnections: total(connections),
    accepted: accepted.map((s) => ({ transport: label(s, 'transport'), count: s.value })),
    rejected: rejected
      .map((s) => ({ transport: label(s, 'transport'), code: label(s, 'code'), count: s.value }))
      .sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0)),
  };
}
