import { readFile, writeFile } from 'node:fs/promises';
import { type RunReport, verificationSummary } from '../../simulator/index.js';
import type { Subcommand } from '../subcommand.js';
import { readingsSource, verifyWith } from './audit-source.js';

/** `telemetry simulate verify`: audits the store against the report of an earlier run. */
export const verifySubcommand: Subcommand<number> = {
  name: 'verify',
  summary: 'Audit the store against a run report: every acknowledged reading stored once, no fault stored',
  details: [
    "Reads the stored readings of every device in the report, through a node's query API (GET /v1/query/readings " +
      'with an operator token: --token or TELEMETRY_TOKEN, --url or TELEMETRY_URL) or, without a token, directly from ' +
      'the store the TELEMETRY_* settings name, as a node opens it. The embedded store (DuckDB) is locked by a running ' +
      'node: verify it through the query API, or after the node has stopped. Values are recomputed from the seed. ' +
      'Exit status 1 when an acknowledged reading is missing, stored twice or with another value, or a fault probe ' +
      'was stored.',
  ],
  usage: '--report FILE [--url URL --token TOKEN]',
  options: [
    { name: 'report', value: 'FILE', description: 'The JSON report of "simulate run".', required: true },
    { name: 'url', value: 'URL', description: 'The node query API (or TELEMETRY_URL).' },
    { name: 'token', value: 'TOKEN', description: 'Operator token with read scope (or TELEMETRY_TOKEN).' },
    { name: 'out', value: 'FILE', description: 'Write the report with its verification section to FILE.' },
    { name: 'json', description: 'Print the verification section as JSON on stdout.' },
  ],
  example:
    'TELEMETRY_TOKEN=$(telemetry keys operator-token --issuer op.key.json --scope read) telemetry simulate verify --report run.json',
  async run(args, io) {
    const path = args.path('report');
    let report: RunReport;
    try {
      report = JSON.parse(await readFile(path, 'utf8')) as RunReport;
    } catch {
      io.stderr(`telemetry simulate verify: cannot read the run report ${path}\n`);
      return 1;
    }
    if (report.version !== 1 || !Array.isArray(report.devices)) {
      io.stderr(`telemetry simulate verify: ${path} is not a version 1 run report\n`);
      return 1;
    }
    const verification = await verifyWith(readingsSource(args, io), report, io);
    if (verification === undefined) return 1;
    const out = args.optionalPath('out');
    if (out !== undefined) await writeFile(out, `${JSON.stringify({ ...report, verification })}\n`);
    if (args.flag('json')) {
      io.stdout(`${JSON.stringify(verification)}\n`);
      io.stderr(verificationSummary(verification));
    } else io.stdout(verificationSummary(verification));
    return verification.ok ? 0 : 1;
  },
};
