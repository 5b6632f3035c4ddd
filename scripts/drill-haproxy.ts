/**
 * Runs the HAProxy failover drill (test/drills/haproxy-failover.test.ts) and prints a pass/fail summary:
 * three nodes behind HAProxy, one killed -9 mid-run and brought back, the store audited afterwards.
 *
 * @example
 * npx tsx scripts/drill-haproxy.ts
 */
import { type AuditCounts, auditLine, retryCounts, runDrill, seconds } from './run-drill.js';

interface Half {
  readonly acknowledged: number;
  readonly readingsAcknowledged: number;
  readonly retries: Record<string, number>;
  readonly connects: number;
  readonly disconnects: number;
  readonly verified: AuditCounts;
}

interface Result {
  readonly killedAt: number;
  readonly restartBegunAt: number;
  readonly restartedAt: number;
  readonly durationMs: number;
  readonly http: Half;
  readonly mqtt: Half;
  readonly haproxy: ReadonlyArray<{ backend: string; server: string; retries: number; redispatches: number }>;
}

await runDrill<Result>({
  testFile: 'test/drills/haproxy-failover.test.ts',
  label: 'haproxy drill',
  summarize: (drill) => {
    const sum = (field: 'retries' | 'redispatches') => drill.haproxy.reduce((total, row) => total + row[field], 0);
    return [
      `node killed -9 at ${seconds(drill.killedAt)}, restart begun at ${seconds(drill.restartBegunAt)}, up at ${seconds(drill.restartedAt)}; runs took ${seconds(drill.durationMs)}`,
      ...(['http', 'mqtt'] as const).map((transport) => {
        const half = drill[transport];
        return (
          `${transport}: ${half.acknowledged} messages (${half.readingsAcknowledged} readings) acknowledged; ` +
          `device retries: ${retryCounts(half.retries)}; connects ${half.connects}, disconnects ${half.disconnects}; ` +
          auditLine(half.verified)
        );
      }),
      `haproxy: ${sum('retries')} retries, ${sum('redispatches')} redispatches`,
    ];
  },
});
