/**
 * Runs the external-broker failover drill (test/drills/external-broker-failover.test.ts) and prints a pass/fail
 * summary: three nodes on a Mosquitto shared subscription, one killed -9 mid-run and brought back with its client
 * ids, the store audited afterwards. TELEMETRY_MQTT_CONNECTIONS in the environment sets the nodes' connections.
 *
 * @example
 * npx tsx scripts/drill-external-broker.ts
 * TELEMETRY_MQTT_CONNECTIONS=1 npx tsx scripts/drill-external-broker.ts
 */
import { type AuditCounts, auditLine, retryCounts, runDrill, seconds } from './run-drill.js';

interface Result {
  readonly connectionsPerNode: number;
  readonly killedAt: number;
  readonly loadEndedAt: number;
  readonly restartBegunAt: number;
  readonly durationMs: number;
  readonly acceptedBeforeKill: number;
  readonly run: {
    readonly acknowledged: number;
    readonly readingsAcknowledged: number;
    readonly messagesPerSecond: number;
    readonly retries: Record<string, number>;
    readonly connects: number;
    readonly disconnects: number;
  };
  readonly heldForKilledNode: { readonly values: number };
  readonly restartedNode: {
    readonly accepted: number;
    readonly written: number;
    readonly drain: { readonly messages: number; readonly ms: number; readonly perSecond: number };
  };
  readonly verified: AuditCounts;
}

await runDrill<Result>({
  testFile: 'test/drills/external-broker-failover.test.ts',
  label: 'external-broker drill',
  summarize: (drill) => [
    `${drill.connectionsPerNode} broker connection(s) per node; node killed -9 at ${seconds(drill.killedAt)} ` +
      `(after it had stored ${drill.acceptedBeforeKill} messages), load ended at ${seconds(drill.loadEndedAt)}, ` +
      `restart begun at ${seconds(drill.restartBegunAt)}; drill took ${seconds(drill.durationMs)}`,
    `devices: ${drill.run.acknowledged} messages (${drill.run.readingsAcknowledged} readings) acknowledged by the ` +
      `broker at ${drill.run.messagesPerSecond} messages/s; device retries: ${retryCounts(drill.run.retries)}; ` +
      `connects ${drill.run.connects}, disconnects ${drill.run.disconnects}`,
    `while the node was down: ${drill.heldForKilledNode.values} acknowledged values missing from the store, ` +
      'kept by the broker in its sessions (the other two nodes idle)',
    `restarted node: got ${drill.restartedNode.accepted} messages (${drill.restartedNode.written} readings) with no ` +
      `new load, worked off at ${drill.restartedNode.drain.perSecond} messages/s ` +
      `(${drill.restartedNode.drain.messages} in ${seconds(drill.restartedNode.drain.ms)})`,
    `audit: ${auditLine(drill.verified)}`,
  ],
});
