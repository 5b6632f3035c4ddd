/**
 * Runs the external-broker failover drill (test/drills/external-broker-failover.test.ts) and prints a pass/fail
 * summary: three nodes on a Mosquitto shared subscription, devices that count a message delivered only on the
 * node's end-to-end acknowledgement (docs/PROTOCOL.md §10.3); one node killed -9 mid-run, once for good and once
 * brought back as a new process; the store audited afterwards. TELEMETRY_MQTT_CONNECTIONS in the environment
 * sets the nodes' connections.
 *
 * @example
 * npx tsx scripts/drill-external-broker.ts
 * TELEMETRY_MQTT_CONNECTIONS=4 npx tsx scripts/drill-external-broker.ts
 */
import { type AuditCounts, auditLine, retryCounts, runDrill, seconds } from './run-drill.js';

interface Counters {
  readonly accepted: number;
  readonly written: number;
}

interface Result {
  readonly restart: boolean;
  readonly connectionsPerNode: number;
  readonly ackTimeoutMs: number;
  readonly killedAt: number;
  readonly restartedAt?: number;
  readonly loadEndedAt: number;
  readonly durationMs: number;
  readonly acceptedBeforeKill: number;
  readonly run: {
    readonly acknowledged: number;
    readonly readingsAcknowledged: number;
    readonly readingsSampled: number;
    readonly messagesPerSecond: number;
    readonly retries: Record<string, number>;
    readonly connects: number;
    readonly disconnects: number;
  };
  readonly survivors: readonly Counters[];
  readonly restartedNode?: Counters;
  readonly verified: AuditCounts;
}

await runDrill<Result>({
  testFile: 'test/drills/external-broker-failover.test.ts',
  label: 'external-broker drill',
  summarize: (drill) => [
    `${drill.restart ? 'kill and restart' : 'kill for good'}: ${drill.connectionsPerNode} broker connection(s) per ` +
      `node; node killed -9 at ${seconds(drill.killedAt)} (after it had stored ${drill.acceptedBeforeKill} ` +
      'messages)' +
      (drill.restartedAt === undefined ? ', never restarted' : `, back at ${seconds(drill.restartedAt)}`) +
      `; load ended at ${seconds(drill.loadEndedAt)}, drill took ${seconds(drill.durationMs)}`,
    `devices: ${drill.run.acknowledged} messages (${drill.run.readingsAcknowledged} of ` +
      `${drill.run.readingsSampled} readings) acknowledged end to end at ${drill.run.messagesPerSecond} messages/s; ` +
      `resends (ack timeout ${seconds(drill.ackTimeoutMs)}): ${retryCounts(drill.run.retries)}; ` +
      `connects ${drill.run.connects}, disconnects ${drill.run.disconnects}`,
    `surviving nodes stored ${drill.survivors.map((s) => s.accepted).join(' and ')} messages` +
      (drill.restartedNode === undefined ? '' : `; the restarted node ${drill.restartedNode.accepted}`),
    `audit: ${auditLine(drill.verified)}`,
  ],
});
