import { writeFile } from 'node:fs/promises';
import {
  DEFAULT_BACKOFF,
  DEVICE_KINDS,
  type FleetAlgorithm,
  FleetError,
  type FleetKeySource,
  loadFleetSigners,
  progressLine,
  provisionFleet,
  RUN_DEFAULTS,
  type RunOptions,
  readFleet,
  runSummary,
  startRun,
} from '../../simulator/index.js';
import { parseDuration } from '../config/parse-duration.js';
import { DEFAULT_LIMITS, DEFAULT_TOKEN_AUDIENCE } from '../index.js';
import { type Command, type CommandIo, UsageError } from './command.js';
import type { KeysArgs } from './keys/keys-args.js';
import { type KeysSubcommand, parseSubcommandArgs, subcommandHelp } from './keys/keys-subcommand.js';

/** A `telemetry simulate` subcommand: the keys subcommand shape, with an exit code. */
interface SimulateSubcommand extends Omit<KeysSubcommand, 'run'> {
  readonly run: (args: KeysArgs, io: CommandIo) => Promise<number>;
}

const SUMMARY = 'Simulate fleets of devices that sign and send realistic readings, and report what was stored';

/** A duration option (`500ms` is not one; `0`, `45s`, `15m`) in milliseconds. */
function durationMs(args: KeysArgs, name: string): number {
  const text = args.string(name);
  const seconds = parseDuration(text);
  if (seconds === undefined)
    throw new UsageError(`--${name} must be a duration such as 0, 10s, 5m or 1h, got ${JSON.stringify(text)}`);
  return seconds * 1000;
}

/** A number option within [min, max]. */
function numberOption(args: KeysArgs, name: string, min: number, max: number): number {
  const text = args.string(name);
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || value < min || value > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function positiveInteger(args: KeysArgs, name: string, fallback: number, max: number): number {
  const value = args.integer(name, fallback);
  if (value < 1 || value > max) throw new UsageError(`--${name} must be from 1 to ${max}, got ${value}`);
  return value;
}

const provisionSubcommand: SimulateSubcommand = {
  name: 'provision',
  summary: 'Create a fleet of simulated devices: keys, registry, issuer and credentials, fleet.json',
  details: [
    'Writes DIR/fleet.json, DIR/keys/<id>.key.json (mode 0600), and DIR/registry.jwks.json for ' +
      'TELEMETRY_KEY_REGISTRY and/or DIR/issuers.jwks.json (TELEMETRY_CREDENTIAL_ISSUERS), DIR/issuer.key.json and ' +
      'DIR/credentials/<id>.jwt. Device ids are sim-<kind>-<00000>. With --seed every key is derived from the seed ' +
      '(HMAC-SHA256(seed, device id)), so the same options give the same files (credentials: the same day). ' +
      'With --key-source both, even devices use the registry and odd ones a credential. Kinds: ' +
      `${[...DEVICE_KINDS.keys()].join(', ')}.`,
  ],
  options: [
    { name: 'devices', value: 'N', description: 'How many devices.', required: true },
    { name: 'out', value: 'DIR', description: 'The fleet folder (created; files in it replaced).', required: true },
    { name: 'alg', value: 'ALG', description: 'ES256, EdDSA, or mixed (alternating).', default: 'ES256' },
    { name: 'seed', value: 'S', description: 'Derive every key from this secret seed.', defaultText: 'random keys' },
    {
      name: 'kinds',
      value: 'LIST',
      description: 'Device kinds, comma-separated, assigned in turn.',
      default: 'thermo',
    },
    { name: 'key-source', value: 'SRC', description: 'registry, credentials or both.', default: 'registry' },
    { name: 'credential-ttl', value: 'DURATION', description: 'Lifetime of the credentials.', default: '30d' },
  ],
  example: 'telemetry simulate provision --devices 1000 --out fleet --alg mixed --kinds thermo,meter,gps --seed demo',
  async run(args, io) {
    const devices = positiveInteger(args, 'devices', 0, 100_000);
    const alg = args.string('alg');
    if (alg !== 'ES256' && alg !== 'EdDSA' && alg !== 'mixed')
      throw new UsageError('--alg must be ES256, EdDSA or mixed');
    const kinds = args
      .string('kinds')
      .split(',')
      .map((k) => k.trim());
    const unknown = kinds.filter((k) => !DEVICE_KINDS.has(k));
    if (unknown.length > 0) {
      throw new UsageError(
        `--kinds: unknown kind ${unknown.join(', ')} (known: ${[...DEVICE_KINDS.keys()].join(', ')})`,
      );
    }
    const keySource = args.string('key-source');
    if (keySource !== 'registry' && keySource !== 'credentials' && keySource !== 'both') {
      throw new UsageError('--key-source must be registry, credentials or both');
    }
    const dir = args.path('out');
    const seed = args.optional('seed');
    const { manifest } = await provisionFleet({
      dir,
      devices,
      alg: alg as FleetAlgorithm,
      kinds,
      keySource: keySource as FleetKeySource,
      ...(seed === undefined ? {} : { seed }),
      credentialTtlSeconds: args.seconds('credential-ttl'),
      // Credentials issued at the start of the day (UTC), so the same seed gives the same files all day.
      now: Math.floor(Date.now() / 86_400_000) * 86_400_000,
    });
    io.stdout(
      [
        `provisioned ${manifest.devices.length} devices (${kinds.join(', ')}, ${alg}) in ${dir}`,
        ...(manifest.registryFile === undefined ? [] : [`  TELEMETRY_KEY_REGISTRY=${dir}/${manifest.registryFile}`]),
        ...(manifest.issuersFile === undefined
          ? []
          : [`  TELEMETRY_CREDENTIAL_ISSUERS=${dir}/${manifest.issuersFile}`]),
        '',
      ].join('\n'),
    );
    return 0;
  },
};

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
      name: 'max-readings-per-message',
      value: 'N',
      description: "The node's maxReadingsPerMessage (backlog messages).",
      default: String(DEFAULT_LIMITS.maxReadingsPerMessage),
    },
    { name: 'token-ttl', value: 'D', description: 'MQTT connection token lifetime.', default: '1h' },
    { name: 'drain-timeout', value: 'D', description: 'Longest wait for acknowledgements at the end.', default: '30s' },
    { name: 'seed', value: 'S', description: 'Seeds sensor values and jitter.', default: 'telemetry' },
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
    const reportPath = args.optionalPath('report');
    let fleet: Awaited<ReturnType<typeof readFleet>>;
    let signers: Awaited<ReturnType<typeof loadFleetSigners>>;
    try {
      fleet = await readFleet(fleetDir);
      signers = await loadFleetSigners(fleetDir, fleet);
    } catch (error) {
      if (!(error instanceof FleetError)) throw error;
      io.stderr(`telemetry simulate run: ${error.message}\n`);
      return 1;
    }
    const run = startRun({ ...options, fleet, signers });
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
    const report = await run.done;
    clearInterval(progress);
    if (live) io.stderr('\n');
    const json = `${JSON.stringify(report)}\n`;
    if (reportPath !== undefined) await writeFile(reportPath, json);
    if (args.flag('json')) {
      io.stdout(json);
      io.stderr(runSummary(report));
    } else {
      io.stdout(runSummary(report));
    }
    return report.ok ? 0 : 1;
  },
};

const SUBCOMMANDS: readonly SimulateSubcommand[] = [provisionSubcommand, runSubcommand];

function overview(): string {
  const width = Math.max(...SUBCOMMANDS.map((s) => s.name.length));
  return [
    'Usage: telemetry simulate <subcommand> [options]',
    '',
    `${SUMMARY}.`,
    '',
    'Subcommands:',
    ...SUBCOMMANDS.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`),
    '',
    "Run 'telemetry simulate <subcommand> --help' for its options and an example.",
    '',
  ].join('\n');
}

/** The help of a subcommand, in the layout of the keys subcommands. */
function help(subcommand: SimulateSubcommand): string {
  const text = subcommandHelp({ ...subcommand, run: async () => undefined });
  return text.replace('Usage: telemetry keys ', 'Usage: telemetry simulate ');
}

async function run(argv: readonly string[], io: CommandIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr(overview());
    return 2;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    io.stdout(overview());
    return 0;
  }
  const subcommand = SUBCOMMANDS.find((s) => s.name === first);
  if (subcommand === undefined) {
    io.stderr(`telemetry simulate: unknown subcommand '${first}'\n\n${overview()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(help(subcommand));
    return 0;
  }
  try {
    return await subcommand.run(parseSubcommandArgs({ ...subcommand, run: async () => undefined }, rest, io.cwd), io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(
        `telemetry simulate ${subcommand.name}: ${error.message}\n` +
          `Run 'telemetry simulate ${subcommand.name} --help' for usage.\n`,
      );
      return 2;
    }
    throw error;
  }
}

/**
 * `telemetry simulate`: provision fleets of simulated devices and run them
 * against ingest nodes (a `verify` audit of the store comes later).
 *
 * @example
 * await runCli(['simulate', 'provision', '--devices', '10', '--out', 'fleet', '--seed', 'demo'], io);
 */
export const simulateCommand: Command = {
  name: 'simulate',
  summary: SUMMARY,
  help: overview(),
  run,
};
