import type { RunSnapshot } from './run-fleet.js';
import type { RunReport } from './run-report.js';

const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(0));

/** The live progress line: devices connected, sent, acknowledged, rejected, in flight, rate, latency. */
export function progressLine(snapshot: RunSnapshot, ratePerSecond: number): string {
  const { stats } = snapshot;
  return [
    `${(snapshot.elapsedMs / 1000).toFixed(0)}s`,
    `devices ${snapshot.connected}/${snapshot.devices}`,
    `sent ${stats.attempts}`,
    `acked ${stats.messagesAcknowledged}`,
    `rejected ${stats.messagesRejected}`,
    `in flight ${snapshot.inFlight}`,
    `${ratePerSecond.toFixed(0)} msg/s`,
    `p50 ${ms(stats.latency.quantile(0.5))} ms`,
    `p99 ${ms(stats.latency.quantile(0.99))} ms`,
  ].join('  ');
}

const counts = (record: Readonly<Record<string, number>>) =>
  Object.entries(record)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ') || 'none';

/** The human summary printed at the end of a run. */
export function runSummary(report: RunReport): string {
  const { totals, latencyMs, throughput } = report;
  const seconds = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
  return [
    `${report.interrupted === true ? 'INTERRUPTED' : report.ok ? 'ok' : 'FAILED'}: ${totals.devices} devices over ${report.settings.transport} for ${seconds.toFixed(1)} s`,
    `  connected      ${totals.devicesConnected}/${totals.devices} (connects ${totals.connects}, disconnects ${totals.disconnects})`,
    `  messages       ${totals.messagesSent} sent, ${totals.attempts} attempts, ${totals.messagesAcknowledged} acknowledged, ${totals.messagesUnconfirmed} unconfirmed (QoS 0), ${totals.messagesRejected} rejected, ${totals.messagesPendingAtEnd} pending at end`,
    `  readings       ${totals.readingsSampled} sampled, ${totals.readingsAcknowledged} acknowledged`,
    `  throughput     ${throughput.messagesPerSecond} msg/s, ${throughput.readingsPerSecond} readings/s`,
    `  ack latency    p50 ${latencyMs.p50} ms, p95 ${latencyMs.p95} ms, p99 ${latencyMs.p99} ms, max ${latencyMs.max} ms`,
    `  errors         ${counts(report.errors)}`,
    `  retries        ${counts(report.retries)}`,
    ...(Object.keys(report.connectFailures).length > 0 ? [`  connect fails  ${counts(report.connectFailures)}`] : []),
    ...Object.entries(report.faults ?? {}).map(
      ([kind, t]) =>
        `  fault ${kind.padEnd(18)} ${t.injected} injected, ${t.rejectedAsExpected + t.acceptedAsExpected} answered ${t.expected} as expected, unexpected ${counts(t.unexpected)}`,
    ),
    ...(report.drops === undefined
      ? []
      : [`  drops          ${report.drops.cuts} connection(s) cut on purpose, on ${report.drops.devices} device(s)`]),
    ...(report.skew === undefined
      ? []
      : [
          `  clock skew     ${report.skew.devices} device(s) off by up to ±${(report.settings.skewMs ?? 0) / 1000} s, ${report.skew.beyondTolerance} beyond the node's ${report.skew.toleranceMs.future / 1000} s: ${report.skew.rejectedAsExpected} message(s) refused with ERR_TIMESTAMP_OUT_OF_RANGE as expected`,
        ]),
    `  cpu            ${report.cpu.userMs} ms user, ${report.cpu.systemMs} ms system, ${report.cpu.perMessageUs} µs/attempt`,
    ...report.problems.map((problem) => `  problem: ${problem}`),
    '',
  ].join('\n');
}
