/**
 * Runs the store-crash drill (test/drills/store-crash.test.ts) and prints a pass/fail summary: each store (InfluxDB
 * 1.6.7, VictoriaMetrics 1.79.5, the embedded DuckDB store) SIGKILLed under HTTP load and started again on its data,
 * then every reading the node had acknowledged looked up. Stores documented durable must lose none;
 * VictoriaMetrics must lose only what it accepted within its documented window (docs/STORAGE.md).
 *
 * @example
 * npx tsx scripts/drill-store-crash.ts
 */
import { runDrill, seconds } from './run-drill.js';

interface Result {
  readonly store: string;
  readonly configuration: string;
  readonly acks: { readonly total: number; readonly perSecond: number };
  readonly missing: number;
  readonly missingPercent: number;
  readonly lossWindowMs: { readonly oldest: number; readonly newest: number } | null;
  readonly storedWithinWindow: number | null;
  readonly unacknowledgedButStored: number;
  readonly ms: { readonly load: number; readonly reopen: number };
}

await runDrill<Result>({
  testFile: 'test/drills/store-crash.test.ts',
  label: 'store-crash drill',
  summarize: (drill) => [
    `${drill.store} (${drill.configuration}): killed with SIGKILL after ${seconds(drill.ms.load)} of load ` +
      `(${drill.acks.perSecond} acknowledged readings/s), started again in ${seconds(drill.ms.reopen)}`,
    drill.lossWindowMs === null
      ? `  acknowledged ${drill.acks.total}, missing 0`
      : `  acknowledged ${drill.acks.total}, missing ${drill.missing} (${drill.missingPercent}%): those acknowledged ` +
        `from ${seconds(drill.lossWindowMs.oldest)} before the kill on (${drill.storedWithinWindow} of them stored ` +
        'after all)',
    `  stored though never acknowledged (the node or store died before the answer): ${drill.unacknowledgedButStored}`,
  ],
});
