import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import {
  DEFAULT_BACKOFF,
  DEFAULT_CLOCK_TOLERANCE,
  FaultPlanError,
  FleetError,
  loadFleetSigners,
  parseFaultPlan,
  progressLine,
  RUN_DEFAULTS,
  type RunOptions,
  readFleet,
  runSummary,
  startRun,
  verificationSummary,
} from '../../simulator/index.js';
import { DEFAULT_LIMITS, DEFAULT_TOKEN_AUDIENCE } from '../../src/index.js';
import { type Command, UsageError } from '../command.js';
import { subcommandsCommand } from '../dispatch-subcommands.js';
import { type Subcommand, subcommandEntry } from '../subcommand.js';
import { readingsSource, verifyWith } from './audit-source.js';
import { durationMs, numberOption, positiveInteger } from './option-readers.js';
import { provisionSubcommand } from './provision.js';
import { verifySubcommand } from './verify.js';

/** A `telemetry simulate` subcommand resolves to its exit code. */
type SimulateSubcommand = Subcommand<number>;

const runSubcommand: SimulateSubcommand = {
  name: 'run',
  summary: 'Run a provisioned fleet against a node over HTTP or MQTT and report what was acknowledged',
  details: [
    'Each device samples its sensors in real time (rate × readings-per-message readings a second), keeps its own ' +
      'seq, buffer and unacknowledged messages, retries with backoff and jitter (honouring Retry-After), flushes ' +
      'an offline backlog in messages of up to --max-readings-per-message, and over MQTT renews its connection token. ' +
      'The report lists, per device, the readings acknowledged (index ranges; values are recomputed from --seed). ' +
      'Exit status 1 when something went wrong that was not injected on purpose: a message refused for good, a ' +
      'device that never got through, messages unacknowledged at the end.',
  ],
  usage: '--fleet DIR (--duration D | --messages N)',
  options: [
    { name: 'fleet', value: 'DIR', description: 'The fleet folder from "simulate provision".', required: true },
    { name: 'transport', value: 'T', description: 'http or mqtt.', default: 'http' },
    { name: 'url', value: 'URL', description: 'The node HTTP API.', default: 'http://127.0.0.1:8080' },
    { name: 'mqtt-url', value: 'URL', description: 'The MQTT broker.', default: 'mqtt://127.0.0.1:1883' },
    { name: 'rate', value: 'R', description: 'Messages a second per device.', default: '1' },
    { name: 'readings-per-message', value: 'K', description: 'Readings in each message.', default: '1' },
    { name: 'duration', value: 'D', description: 'How long devices take readings (30s, 5m).' },
    { name: 'messages', value: 'N', description: 'Or: messages per device, then stop.' },
    { name: 'ramp', value: 'D', description: 'Spread device starts over this long.', default: '0' },
    { name: 'qos', value: 'Q', description: 'MQTT QoS, 0 or 1 (only 1 is acknowledged).', default: '1' },
    { name: 'gateway-batch', value: 'M', description: 'HTTP: post gateway batches of up to M messages.' },
    { name: 'offline-share', value: 'F', description: 'Share of devices (0–1) that go offline once.', default: '0' },
    { name: 'offline-for', value: 'D', description: 'How long they stay offline.', default: '20s' },
    {
      name: 'drop-share',
      value: 'F',
      description:
        'Share of devices (0–1) whose connection is cut abruptly now and then (MQTT: socket destroyed, no ' +
        'DISCONNECT; HTTP: a request cut before its answer). They reconnect and send again.',
      default: '0',
    },
    { name: 'drop-every', value: 'D', description: 'How often each of them is cut.', default: '10s' },
    {
      name: 'skew-share',
      value: 'F',
      description: 'Share of devices (0–1) whose clock is off, each by up to ±--skew; their timestamps move too.',
      default: '0',
    },
    { name: 'skew', value: 'D', description: 'Largest clock error of those devices.', default: '30s' },
    {
      name: 'node-clock-skew',
      value: 'D',
      description: "The node's TELEMETRY_CLOCK_SKEW_SECONDS: devices ahead by more expect ERR_TIMESTAMP_OUT_OF_RANGE.",
      default: `${DEFAULT_CLOCK_TOLERANCE.futureMs / 1000}s`,
    },
    {
      name: 'node-max-age',
      value: 'D',
      description: "The node's TELEMETRY_MAX_READING_AGE_SECONDS: devices behind by more expect the same.",
      default: `${DEFAULT_CLOCK_TOLERANCE.pastMs / 86_400_000}d`,
    },
    {
      name: 'max-readings-per-message',
      value: 'N',
      description: "The node's maxReadingsPerMessage (backlog messages).",
      default: String(DEFAULT_LIMITS.maxReadingsPerMessage),
    },
    { name: 'token-ttl', value: 'D', description: 'MQTT connection token lifetime.', default: '1h' },
    { name: 'drain-timeout', value: 'D', description: 'Longest wait for acknowledgements at the end.', default: '30s' },
    { name: 'seed', value: 'S', description: 'Seeds sensor values and jitter.', default: 'telemetry' },
    {
      name: 'faults',
      value: 'LIST',
      description:
        'Inject faults: kind=share (0.01) or kind=count (5), comma-separated. Kinds: bad-signature, other-key, ' +
        'replay, malformed, oversized, seconds, expired-credential (credential devices; needs DIR/issuer.key.json).',
    },
    { name: 'verify', description: 'After the run, audit the store through the query API (--token) or the store.' },
    { name: 'token', value: 'TOKEN', description: 'Operator token for --verify (or TELEMETRY_TOKEN).' },
    { name: 'report', value: 'FILE', description: 'Write the JSON report to FILE.' },
    { name: 'json', description: 'Print the JSON report on stdout (the summary goes to stderr).' },
  ],
  example: 'telemetry simulate run --fleet fleet --transport mqtt --rate 2 --duration 30s --ramp 10s --report run.json',
  async run(args, io) {
    const transport = args.string('transport');
    if (transport !== 'http' && transport !== 'mqtt') throw new UsageError('--transport must be http or mqtt');
    const hasDuration = args.optional('duration') !== undefined;
    const hasMessages = args.optional('messages') !== undefined;
    if (hasDuration === hasMessages) throw new UsageError('give exactly one of --duration and --messages');
    const rate = numberOption(args, 'rate', 0.001, 1000);
    const readingsPerMessage = positiveInteger(args, 'readings-per-message', 1, 1000);
    if (rate * readingsPerMessage > 1000) {
      throw new UsageError('--rate × --readings-per-message must be at most 1000 readings a second per device');
    }
    const qos = args.string('qos');
    if (qos !== '0' && qos !== '1') throw new UsageError('--qos must be 0 or 1');
    const gateway = args.optional('gateway-batch');
    const fleetDir = args.path('fleet');
    const options: Omit<RunOptions, 'fleet' | 'signers'> = {
      fleetDir,
      transport,
      url: transport === 'http' ? args.string('url') : args.string('mqtt-url'),
      rate,
      readingsPerMessage,
      ...(hasDuration ? { durationMs: durationMs(args, 'duration') } : {}),
      ...(hasMessages ? { messages: positiveInteger(args, 'messages', 1, Number.MAX_SAFE_INTEGER) } : {}),
      rampMs: durationMs(args, 'ramp'),
      qos: qos === '0' ? 0 : 1,
      ...(gateway === undefined ? {} : { gatewayBatch: positiveInteger(args, 'gateway-batch', 1, 1000) }),
      offlineShare: numberOption(args, 'offline-share', 0, 1),
      offlineForMs: durationMs(args, 'offline-for'),
      dropShare: numberOption(args, 'drop-share', 0, 1),
      dropEveryMs: durationMs(args, 'drop-every'),
      skewShare: numberOption(args, 'skew-share', 0, 1),
      skewMs: durationMs(args, 'skew'),
      tolerance: {
        futureMs: durationMs(args, 'node-clock-skew'),
        pastMs: durationMs(args, 'node-max-age'),
      },
      seed: args.string('seed'),
      limits: {
        maxReadingsPerMessage: positiveInteger(args, 'max-readings-per-message', 1000, 1_000_000),
        maxMessageBytes: DEFAULT_LIMITS.maxMessageBytes,
      },
      window: RUN_DEFAULTS.window,
      httpConnections: RUN_DEFAULTS.httpConnections,
      tokenTtlSeconds: args.seconds('token-ttl'),
      audience: DEFAULT_TOKEN_AUDIENCE,
      backoff: DEFAULT_BACKOFF,
      drainTimeoutMs: durationMs(args, 'drain-timeout'),
    };
    if ((options.dropShare ?? 0) > 0 && options.dropEveryMs === 0) {
      throw new UsageError('--drop-every must be longer than 0 when --drop-share is given');
    }
    const reportPath = args.optionalPath('report');
    const faultsText = args.optional('faults');
    let faults: ReturnType<typeof parseFaultPlan> | undefined;
    try {
      faults = faultsText === undefined ? undefined : parseFaultPlan(faultsText);
    } catch (error) {
      if (error instanceof FaultPlanError) throw new UsageError(`--faults: ${error.message}`);
      throw error;
    }
    let fleet: Awaited<ReturnType<typeof readFleet>>;
    let signers: Awaited<ReturnType<typeof loadFleetSigners>>;
    let issuerKey: JWK | undefined;
    try {
      fleet = await readFleet(fleetDir);
      signers = await loadFleetSigners(fleetDir, fleet);
      if (faults?.has('expired-credential') === true) issuerKey = await readIssuerKey(fleetDir);
    } catch (error) {
      if (!(error instanceof FleetError)) throw error;
      io.stderr(`telemetry simulate run: ${error.message}\n`);
      return 1;
    }
    const verifySource = args.flag('verify') ? readingsSource(args, io) : undefined;
    const run = startRun({
      ...options,
      fleet,
      signers,
      ...(faults === undefined ? {} : { faults }),
      ...(issuerKey === undefined ? {} : { issuerKey }),
    });
    const live = process.stderr.isTTY === true;
    let last = { at: 0, acked: 0 };
    const progress = live
      ? setInterval(() => {
          const snapshot = run.snapshot();
          const acked = snapshot.stats.messagesAcknowledged + snapshot.stats.messagesUnconfirmed;
          const rate = ((acked - last.acked) * 1000) / Math.max(1, snapshot.elapsedMs - last.at);
          last = { at: snapshot.elapsedMs, acked };
          io.stderr(`\r${progressLine(snapshot, rate)}\u001b[K`);
        }, 1000)
      : undefined;
    let report = await run.done;
    clearInterval(progress);
    if (live) io.stderr('\n');
    if (verifySource !== undefined) {
      const verification = await verifyWith(verifySource, report, io);
      if (verification === undefined) return 1;
      report = { ...report, verification };
    }
    const json = `${JSON.stringify(report)}\n`;
    if (reportPath !== undefined) await writeFile(reportPath, json);
    const summary =
      runSummary(report) + (report.verification === undefined ? '' : verificationSummary(report.verification));
    if (args.flag('json')) {
      io.stdout(json);
      io.stderr(summary);
    } else {
      io.stdout(summary);
    }
    return report.ok && report.verification?.ok !== false ? 0 : 1;
  },
};

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
 * `telemetry simulate`: provision fleets of simulated devices and run them
 * against ingest nodes, injecting faults on purpose, and audit the store against a run report.
 *
 * @example
 * await runCli(['simulate', 'provision', '--devices', '10', '--out', 'fleet', '--seed', 'demo'], io);
 */
export const simulateCommand: Command = subcommandsCommand({
  command: 'simulate',
  summary: 'Simulate fleets of devices that sign and send realistic readings, and report what was stored',
  subcommands: [provisionSubcommand, runSubcommand, verifySubcommand].map((subcommand) =>
    subcommandEntry('simulate', subcommand),
  ),
});
