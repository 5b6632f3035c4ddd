import { DEFAULT_TOKEN_AUDIENCE, signConnectionToken } from '../../src/protocol/connection-token.js';
import type { DeviceSigner } from '../../src/protocol/device-signer.js';
import { deviceSignerFromJwk } from '../../src/protocol/device-signer.js';
import { isMetricName } from '../../src/protocol/names.js';
import { signMessage } from '../../src/protocol/sign-message.js';
import { UsageError } from '../command.js';
import type { Subcommand, SubcommandOption } from '../subcommand.js';
import type { SubcommandArgs } from '../subcommand-args.js';
import { readKeyFile, readTextFile } from './key-file.js';
import { failsAs, KeysFailure } from './keys-failure.js';

const KEY_OPTION: SubcommandOption = {
  name: 'key',
  value: 'FILE',
  description: 'The private device key file (from "keys generate").',
  required: true,
};

const CREDENTIAL_OPTION: SubcommandOption = {
  name: 'credential',
  value: 'FILE',
  description: 'A device credential file (from "keys credential"); sent instead of the kid.',
};

const COMPACT_JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** The signer for `--key` and, when given, `--credential`. */
async function loadSigner(args: SubcommandArgs): Promise<DeviceSigner> {
  const key = await readKeyFile(args.path('key'), 'device key file', { private: true, device: true });
  const credentialPath = args.optionalPath('credential');
  let credential: string | undefined;
  if (credentialPath !== undefined) {
    credential = (await readTextFile(credentialPath, 'credential file')).trim();
    if (!COMPACT_JWT.test(credential)) throw new KeysFailure(`the credential file ${credentialPath} holds no JWT`);
  }
  return failsAs(() => deviceSignerFromJwk(key.jwk, credential), `the device key file ${key.path} is not usable`);
}

/** The `--value NAME=NUMBER` options as one reading's values. */
function readingValues(texts: readonly string[]): Record<string, number> {
  if (texts.length === 0) throw new UsageError('--value is required (NAME=NUMBER, repeatable)');
  const values: Record<string, number> = {};
  for (const text of texts) {
    const at = text.indexOf('=');
    const name = text.slice(0, at);
    const number = text.slice(at + 1).trim();
    if (at < 0 || !isMetricName(name)) {
      throw new UsageError(`--value ${JSON.stringify(text)} must be NAME=NUMBER with a valid metric name`);
    }
    if (!DECIMAL.test(number) || !Number.isFinite(Number(number))) {
      throw new UsageError(`--value ${JSON.stringify(text)} must have a finite decimal number after "="`);
    }
    if (Object.hasOwn(values, name)) throw new UsageError(`--value names ${name} twice`);
    values[name] = Number(number);
  }
  return values;
}

/** `telemetry keys sign`: one signed telemetry message, to send by hand with curl. */
export const signSubcommand: Subcommand = {
  name: 'sign',
  summary: 'Print one signed telemetry message (compact JWS) holding one reading',
  details: [
    'The message is printed on one line, ready for an HTTP POST:',
    `  curl -H 'content-type: application/jose' --data-binary "$(telemetry keys sign ...)" http://localhost:8080/v1/messages`,
  ],
  options: [
    KEY_OPTION,
    CREDENTIAL_OPTION,
    { name: 'seq', value: 'N', description: 'The message sequence number.', defaultText: 'milliseconds now' },
    { name: 'ts', value: 'MS', description: 'The reading time, milliseconds since the epoch.', defaultText: 'now' },
    {
      name: 'value',
      value: 'NAME=NUMBER',
      description: 'A metric value of the reading.',
      required: true,
      multiple: true,
    },
  ],
  example: 'telemetry keys sign --key keys/boiler-7.key.json --value temperature=21.5 --value pressure=1.2',
  async run(args, io) {
    const now = Date.now();
    const seq = args.integer('seq', now);
    const ts = args.integer('ts', now);
    const values = readingValues(args.list('value'));
    const signer = await loadSigner(args);
    io.stdout(`${await signMessage(signer, seq, [{ ts, values }])}\n`);
  },
};

/** `telemetry keys connect-token`: the MQTT CONNECT password, signed by the device. */
export const connectTokenSubcommand: Subcommand = {
  name: 'connect-token',
  summary: 'Print an MQTT connection token (the CONNECT password) signed by the device key',
  details: ['Send it as the password of the MQTT CONNECT packet.'],
  options: [
    KEY_OPTION,
    CREDENTIAL_OPTION,
    { name: 'ttl', value: 'DURATION', description: 'How long the token is valid (90s, 15m, 12h).', default: '1h' },
    { name: 'audience', value: 'AUD', description: 'The "aud" claim nodes expect.', default: DEFAULT_TOKEN_AUDIENCE },
  ],
  example: 'telemetry keys connect-token --key keys/boiler-7.key.json --ttl 15m',
  async run(args, io) {
    const lifetimeSeconds = args.seconds('ttl');
    const audience = args.string('audience');
    const signer = await loadSigner(args);
    io.stdout(`${await signConnectionToken(signer, { now: Date.now(), lifetimeSeconds, audience })}\n`);
  },
};
