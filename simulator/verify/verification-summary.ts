import type { VerificationReport } from '../run/verification-report.js';

/** The human summary of a store audit. */
export function verificationSummary(v: VerificationReport): string {
  const a = v.acknowledged;
  return [
    `${v.ok ? 'verified' : 'VERIFY FAILED'}: ${v.devices} devices through the ${v.source === 'query-api' ? 'query API' : 'store'}`,
    `  acknowledged   ${a.expected} values: ${a.storedOnce} stored once, ${a.missing} missing, ${a.duplicated} duplicated, ${a.wrongValue} with another value`,
    `  unacknowledged ${v.unacknowledged.sampled} values, ${v.unacknowledged.stored} stored anyway`,
    `  fault probes   ${v.faultProbesStored} stored`,
    `  other values   ${v.otherStored} stored that this run did not sample`,
    ...v.problems.map((problem) => `  problem: ${problem}`),
    '',
  ].join('\n');
}
