import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import {
  type FaultPlan,
  FleetError,
  loadFleetSigners,
  type RunReport,
  readFleet,
  runSummary,
  startRun,
  verificationSummary,
} from '../../simulator/index.js';
import type { CommandIo } from '../command.js';
import type { Subcommand } from '../subcommand.js';
import { readingsSource, verifyWith } from './audit-source.js';
import { awaitRun, SIGNAL_EXIT_CODES } from './await-run.js';
import { durationMs } from './option-readers.js';
import { probeNode } from './probe-node.js';
import { RUN_OPTIONS, readFaults, readRunSettings } from './run-options.js';

/** The fleet issuer's private key, for expired-credential faults. */
async function readIssuerKey(dir: string): Promise<JWK> {
  const path = join(dir, 'issuer.key.json');
  try {
    return JSON.parse(await readFile(path, 'utf8')) as JWK;
  } catch (error) {
    throw new FleetError(`expired-credential faults need the fleet issuer key ${path}`, { cause: error });
  }
}

/**
 * The fleet, its signers and (for expired-credential faults) its issuer key;
 * prints why and returns undefined when they cannot be read.
 */
async function loadFleet(dir: string, faults: FaultPlan | undefined, io: CommandIo) {
  try {
    const fleet = await readFleet(dir);
    const signers = await loadFleetSigners(dir, fleet);
    const issuerKey = faults?.has('expired-credential') === true ? await readIssuerKey(dir) : undefined;
    return { fleet, signers, ...(issuerKey === undefined ? {} : { issuerKey }) };
  } catch (error) {
    if (!(error instanceof FleetError)) throw error;
    io.stderr(`telemetry simulate run: ${error.message}\n`);
    return undefined;
  }
}

/** Writes the report to `path` when given, and prints the summary, with the JSON report on stdout when `json`. */
async function printReport(report: RunReport, path: string | undefined, json: boolean, io: CommandIo): Promise<void> {
  const text = `${JSON.stringify(report)}\n`;
  if (path !== undefined) await writeFile(path, text);
  const summary =
    runSummary(report) + (report.verification === undefined ? '' : verificationSummary(report.verification));
  if (json) {
    io.stdout(text);
    io.stderr(summary);
  } else {
    io.stdout(summary);
  }
}

/** How long the run looks for its node before giving up: long enough for a node still starting. */
const PROBE_WITHIN_MS = 5_000;

/** `telemetry simulate run`: runs a provisioned fleet against a node, optionally auditing the store after. */
export const runSubcommand: Subcommand<number> = {
  name: 'run',
  summary: 'Run a provisioned fleet against a node over HTTP or MQTT and report what was acknowledged',
  details: [
    'Each device samples its sensors in real time (rate × readings-per-message readings a second), keeps its own ' +
      'seq, buffer and unacknowledged messages, retries with backoff and jitter (honouring Retry-After), flushes ' +
      'an offline backlog in messages of up to --max-readings-per-message, and over MQTT renews its connection token. ' +
      'The report lists, per device, the readings acknowledged (index ranges; values are recomputed from --seed). ' +
      'Exit status 1 when something went wrong that was not injected on purpose: a message refused for good, a ' +
      'device that never got through, messages unacknowledged at the end.',
    'It sends to --url (HTTP) or --mqtt-url, else TELEMETRY_URL or TELEMETRY_MQTT_URL, else a node on this machine, ' +
      'and says which at the start. When nothing answers there within 5 s it stops at once with exit status 69. ' +
      'SIGINT (Ctrl-C) or SIGTERM stops the devices sending, waits up to 5 s for the acknowledgements of what is in ' +
      'flight (a second signal stops the wait), then prints the summary and writes the report marked "interrupted": ' +
      'true, and exits with 130 (SIGINT) or 143 (SIGTERM).',
  ],
  usage: '--fleet DIR (--duration D | --messages N)',
  options: RUN_OPTIONS,
  example: 'telemetry simulate run --fleet fleet --transport mqtt --rate 2 --duration 30s --ramp 10s --report run.json',
  async run(args, io) {
    const settings = readRunSettings(args, io.env);
    const progressEveryMs = durationMs(args, 'progress-every');
    const reportPath = args.optionalPath('report');
    const faults = readFaults(args);
    const loaded = await loadFleet(settings.fleetDir, faults, io);
    if (loaded === undefined) return 1;
    const verifySource = args.flag('verify') ? readingsSource(args, io) : undefined;
    io.stderr(
      `telemetry simulate run: ${loaded.fleet.devices.length} devices over ${settings.transport} to ${settings.url}\n`,
    );
    const unreachable = await probeNode(settings.url, PROBE_WITHIN_MS);
    if (unreachable !== undefined) {
      const flags = settings.transport === 'http' ? '--url or TELEMETRY_URL' : '--mqtt-url or TELEMETRY_MQTT_URL';
      io.stderr(
        `telemetry simulate run: nothing answers at ${settings.url} (${unreachable}): ` +
          `start a node there (telemetry serve) or name the one to use with ${flags}\n`,
      );
      return 69; // EX_UNAVAILABLE (sysexits.h)
    }
    const run = startRun({ ...settings, ...loaded, ...(faults === undefined ? {} : { faults }) });
    const { report: finished, signal } = await awaitRun(run, io, progressEveryMs);
    let report = finished;
    if (signal !== undefined) {
      await printReport(report, reportPath, args.flag('json'), io);
      return SIGNAL_EXIT_CODES[signal];
    }
    if (verifySource !== undefined) {
      const verification = await verifyWith(verifySource, report, io);
      if (verification === undefined) return 1;
      report = { ...report, verification };
    }
    await printReport(report, reportPath, args.flag('json'), io);
    return report.ok && report.verification?.ok !== false ? 0 : 1;
  },
};
