import {
  DEFAULT_BACKOFF,
  DEFAULT_CLOCK_TOLERANCE,
  type FaultPlan,
  FaultPlanError,
  parseFaultPlan,
  RUN_DEFAULTS,
  type RunOptions,
} from '../../simulator/index.js';
import { DEFAULT_LIMITS, DEFAULT_TOKEN_AUDIENCE } from '../../src/index.js';
import { UsageError } from '../command.js';
import type { SubcommandOption } from '../subcommand.js';
import type { SubcommandArgs } from '../subcommand-args.js';
import { durationMs, numberOption, positiveInteger } from './option-readers.js';

/** What the options of `telemetry simulate run` set: all of the run but the fleet itself. */
export type RunSettings = Omit<RunOptions, 'fleet' | 'signers'>;

/** The options of `telemetry simulate run`, in the order its help lists them. */
export const RUN_OPTIONS: readonly SubcommandOption[] = [
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
  {
    name: 'mqtt-acks',
    value: 'A',
    description:
      "MQTT: what counts as delivered: puback (the embedded broker) or end-to-end (the node's " +
      'acknowledgement on devices/<id>/acks; use it through an external broker).',
    default: 'puback',
  },
  {
    name: 'ack-timeout',
    value: 'D',
    description: 'With --mqtt-acks end-to-end: resend a message not acknowledged within this long.',
    default: '30s',
  },
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
];

/**
 * The run settings the options give, checked in the order they always have
 * been, so the first bad option is the one reported.
 *
 * @throws UsageError naming the first bad option.
 */
export function readRunSettings(args: SubcommandArgs): RunSettings {
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
  const mqttAcks = args.string('mqtt-acks');
  if (mqttAcks !== 'puback' && mqttAcks !== 'end-to-end') {
    throw new UsageError('--mqtt-acks must be puback or end-to-end');
  }
  const gateway = args.optional('gateway-batch');
  const fleetDir = args.path('fleet');
  const settings: RunSettings = {
    fleetDir,
    transport,
    url: transport === 'http' ? args.string('url') : args.string('mqtt-url'),
    rate,
    readingsPerMessage,
    ...(hasDuration ? { durationMs: durationMs(args, 'duration') } : {}),
    ...(hasMessages ? { messages: positiveInteger(args, 'messages', 1, Number.MAX_SAFE_INTEGER) } : {}),
    rampMs: durationMs(args, 'ramp'),
    qos: qos === '0' ? 0 : 1,
    mqttAcks,
    ackTimeoutMs: durationMs(args, 'ack-timeout'),
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
  if ((settings.dropShare ?? 0) > 0 && settings.dropEveryMs === 0) {
    throw new UsageError('--drop-every must be longer than 0 when --drop-share is given');
  }
  return settings;
}

/** The fault plan of --faults, or undefined without one. */
export function readFaults(args: SubcommandArgs): FaultPlan | undefined {
  const text = args.optional('faults');
  if (text === undefined) return undefined;
  try {
    return parseFaultPlan(text);
  } catch (error) {
    if (error instanceof FaultPlanError) throw new UsageError(`--faults: ${error.message}`);
    throw error;
  }
}
