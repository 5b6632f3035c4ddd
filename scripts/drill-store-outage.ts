/**
 * Runs the store-outage drill (test/ingest/store-outage.test.ts) and prints a pass/fail summary: the store server
 * (VictoriaMetrics, then InfluxDB 1.x) stopped under HTTP and MQTT load and restarted, every acknowledged reading
 * then found in the store exactly once.
 *
 * @example
 * npx tsx scripts/drill-store-outage.ts
 */
import { runDrill, seconds } from './run-drill.js';

interface Result {
  readonly store: string;
  readonly acks: {
    readonly beforeOutage: number;
    readonly whileDown: number;
    readonly afterResume: number;
    readonly total: number;
  };
  readonly httpRefusalsWhileDown: Record<string, number>;
  readonly mqttNoticesWhileDown: Record<string, number>;
  readonly sent: number;
  readonly unacknowledged: number;
  readonly stored: number;
  readonly ms: { readonly downWindow: number; readonly firstAckAfterResumeStarted: number; readonly total: number };
}

const codes = (counts: Readonly<Record<string, number>>): string =>
  Object.entries(counts)
    .map(([code, count]) => `${code}=${count}`)
    .join(' ') || 'none';

await runDrill<Result>({
  testFile: 'test/ingest/store-outage.test.ts',
  label: 'store-outage drill',
  summarize: (drill) => [
    `${drill.store}: acknowledged ${drill.acks.beforeOutage} before the outage, ${drill.acks.whileDown} while down ` +
      `(${seconds(drill.ms.downWindow)}), ${drill.acks.afterResume} after the restart (first after ` +
      `${seconds(drill.ms.firstAckAfterResumeStarted)}); ${drill.acks.total} in all`,
    `  refused while down: HTTP ${codes(drill.httpRefusalsWhileDown)}; MQTT notices ${codes(drill.mqttNoticesWhileDown)}`,
    `  sent ${drill.sent}, not acknowledged ${drill.unacknowledged} (the devices' to retry), stored ${drill.stored}: ` +
      'every acknowledged reading stored once, nothing stored that was not sent',
  ],
});
