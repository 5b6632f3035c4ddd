import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { JWK } from 'jose';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CredentialKeySource,
  type DeviceAlgorithm,
  DeviceKeys,
  generateKey,
  issueOperatorToken,
  JwksRegistry,
  type ProtocolLimits,
  verifyConnectionToken,
  verifyMessage,
} from '../../src/index.js';
import { makeDevice, type TestDevice } from '../support/devices.js';
import { startMosquitto } from '../support/mosquitto-server.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';

// devices/c, built with gcc against Debian's libmbedtls-dev, libsodium-dev, libcurl4-openssl-dev and
// libmosquitto-dev (scripts/install-test-deps.sh), with -std=c99 -pedantic -Wall -Wextra -Werror (its Makefile).
const C_DIR = fileURLToPath(new URL('../../devices/c/', import.meta.url));
const run = promisify(execFile);

/** What the core may call from the C library: memory, strings and number text, nothing that allocates or does I/O. */
const PURE_LIBC = ['memcmp', 'memcpy', 'memset', 'strlen', 'strcmp', 'snprintf', 'strtod', 'floor', 'ceil', 'fabs'];

let build: string;
let sanitized: string;

async function make(dir: string, ...args: string[]) {
  return run('make', ['-C', C_DIR, `BUILD=${dir}`, ...args], { maxBuffer: 16 * 1024 * 1024 });
}

/** Runs a program of the build and returns what it printed; fails with its output when it exits non-zero. */
async function program(path: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  try {
    return (await run(path, args, { env: { ...process.env, ...env }, timeout: 120_000 })).stdout;
  } catch (error) {
    const { stdout, stderr, code } = error as { stdout?: string; stderr?: string; code?: unknown };
    throw new Error(`${path} exited with ${String(code)}:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/** Runs a program of the build to its end and returns its exit code and output, whatever the code. */
async function programExit(path: string, args: readonly string[]) {
  try {
    const { stdout } = await run(path, args, { timeout: 120_000 });
    return { code: 0, stdout };
  } catch (error) {
    const { stdout, code } = error as { stdout?: string; code?: unknown };
    return { code: typeof code === 'number' ? code : -1, stdout: stdout ?? '' };
  }
}

beforeAll(async () => {
  build = await mkdtemp(join(tmpdir(), 'c-library-'));
  sanitized = join(build, 'sanitized');
  await make(build, 'all');
  await make(sanitized, 'SANITIZE=1', 'all');
}, 240_000);

afterAll(async () => {
  if (build !== undefined) await rm(build, { recursive: true, force: true });
});

describe('the C device library (devices/c)', () => {
  it('passes its unit tests, built with -std=c99 -pedantic -Wall -Wextra -Werror', async () => {
    const stdout = await program(join(build, 'unit_tests'), []);
    expect(stdout).toMatch(/^\d+ checks, 0 failed$/m);
    expect(stdout).not.toMatch(/^FAIL/m);
  });

  it('allocates nothing, does no I/O and keeps no global state outside its signers', async () => {
    // The core's objects (the signers are mbedTLS's and libsodium's business): what they call, what they hold.
    const core = ['td_encoding', 'td_message', 'td_answers', 'td_seq', 'td_backlog'].map((o) => join(build, `${o}.o`));
    const { stdout } = await run('nm', core);
    const symbols = stdout.split('\n').map((line) => line.trim().split(/\s+/));
    const called = symbols.filter(([type, name]) => type === 'U' && !name?.startsWith('td_')).map(([, name]) => name);
    expect(new Set(called)).toEqual(new Set(called.filter((name) => PURE_LIBC.includes(name ?? ''))));
    expect(called).toContain('snprintf');
    // .data and .bss symbols, global or static: state that would outlive a call. Constant tables are .rodata.
    expect(symbols.filter(([, type]) => /^[BbDdCc]$/.test(type ?? ''))).toEqual([]);
  });

  it('passes them again under AddressSanitizer and UndefinedBehaviorSanitizer', async () => {
    const stdout = await program(join(sanitized, 'unit_tests'), [], {
      ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1',
      UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1',
    });
    expect(stdout).toMatch(/^\d+ checks, 0 failed$/m);
  });
});

// ------------------------------------------------------------------ test/vectors, signed by the library

interface VectorFile<C> {
  now: number;
  settings: ProtocolLimits & { maxTokenLifetimeSeconds: number; clockSkewSeconds: number; tokenAudience: string };
  registry: unknown;
  issuers: unknown;
  deviceKeys: Record<string, JWK>;
  cases: C[];
}
type Expect = { ok: true; device: string; [key: string]: unknown } | { ok: false; error: string };
const vectors = <C>(name: string) =>
  JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as VectorFile<C>;
const messages = vectors<{ name: string; message: string; context?: { expectedDevice: string }; expect: Expect }>(
  'messages.json',
);
const tokens = vectors<{ name: string; token: string; expect: Expect }>('connection-tokens.json');

function keysFor(file: VectorFile<unknown>): DeviceKeys {
  const registry = JwksRegistry.fromDocument(file.registry);
  const issuers = JwksRegistry.fromDocument(file.issuers, 'issuers', { requireSub: false });
  return new DeviceKeys({
    registry: () => registry,
    credentials: new CredentialKeySource({ issuers: () => issuers, clockSkewSeconds: file.settings.clockSkewSeconds }),
  });
}

const text = (part: string) => Buffer.from(part, 'base64url').toString('utf8');

/** The parts of a vector: its header as JSON, its payload bytes, and the key that signed it. */
function partsOf(file: VectorFile<unknown>, compact: string) {
  const [header = '', payload = ''] = compact.trim().split('.');
  const protectedHeader = JSON.parse(text(header)) as { alg: DeviceAlgorithm; kid?: string; dcr?: string };
  const claims = JSON.parse(text(payload)) as { device?: string; sub?: string };
  const device = claims.device ?? claims.sub ?? '';
  const key = file.deviceKeys[device];
  if (key === undefined || typeof key.d !== 'string') throw new Error(`no private key for ${device}`);
  return { header: protectedHeader, payload, device, d: key.d };
}

/** `td_tool <command> <alg> <d> <device> <kid|-> <dcr|-> ...`, the identity of the vector's header. */
function identityArgs(parts: ReturnType<typeof partsOf>): string[] {
  return [parts.header.alg, parts.d, parts.device, parts.header.kid ?? '-', parts.header.dcr ?? '-'];
}

const validMessages = messages.cases.filter((c) => c.expect.ok);
const validTokens = tokens.cases.filter((c) => c.expect.ok);
/** Payloads the library writes itself: its numbers are the shortest round-trip text, as JSON.stringify's. */
const builtByTheLibrary = validMessages.filter((c) => {
  const payload = text(c.message.trim().split('.')[1] ?? '');
  return JSON.stringify(JSON.parse(payload)) === payload;
});

describe('the C library signs every valid case of test/vectors so the node verifier accepts it', () => {
  const messageDeps = { keys: keysFor(messages), limits: messages.settings, now: () => messages.now };
  const tokenKeys = keysFor(tokens);
  const verifyToken = (token: string) =>
    verifyConnectionToken(token, {
      keys: tokenKeys,
      audience: tokens.settings.tokenAudience,
      now: tokens.now,
      clockSkewSeconds: tokens.settings.clockSkewSeconds,
      maxLifetimeSeconds: tokens.settings.maxTokenLifetimeSeconds,
    });
  const tool = (args: string[]) => program(join(build, 'td_tool'), args).then((out) => out.trim());

  it.each(validMessages.map((c) => [c.name, c] as const))('message: %s', async (_name, vector) => {
    const parts = partsOf(messages, vector.message);
    const [command, ...identity] = ['compact', ...identityArgs(parts)];
    const signed = await tool([command, 'telemetry+jws', ...identity, parts.payload]);
    const { ok: _ok, ...expected } = vector.expect;
    expect(await verifyMessage(signed, messageDeps, vector.context)).toMatchObject(expected);
    // Ed25519 is deterministic: the same key and bytes give the vector's very signature.
    if (parts.header.alg === 'EdDSA') expect(signed).toBe(vector.message.trim());
  });

  it.each(builtByTheLibrary.map((c) => [c.name, c] as const))(
    'payload built from readings, byte for byte: %s',
    async (_name, vector) => {
      const parts = partsOf(messages, vector.message);
      const payload = JSON.parse(text(parts.payload)) as {
        seq: number;
        readings: Array<{ ts: number; values: Record<string, number> }>;
      };
      const readings = payload.readings.map(
        (r) =>
          `${r.ts}:${Object.entries(r.values)
            .map(([name, value]) => `${name}=${String(value)}`)
            .join(',')}`,
      );
      const signed = await tool(['message', ...identityArgs(parts), String(payload.seq), ...readings]);
      expect(signed.split('.')[1]).toBe(parts.payload);
      expect(signed.split('.')[0]).toBe(vector.message.trim().split('.')[0]);
      const { ok: _ok, ...expected } = vector.expect;
      expect(await verifyMessage(signed, messageDeps, vector.context)).toMatchObject(expected);
      if (parts.header.alg === 'EdDSA') expect(signed).toBe(vector.message.trim());
    },
  );

  it.each(validTokens.map((c) => [c.name, c] as const))('connection token: %s', async (_name, vector) => {
    const parts = partsOf(tokens, vector.token);
    const claims = JSON.parse(text(parts.payload)) as { aud: unknown; iat: number; exp: number };
    // td_connect_token writes a single audience; an array of them goes through td_sign_compact.
    const signed =
      typeof claims.aud === 'string'
        ? await tool(['token', ...identityArgs(parts), claims.aud, String(claims.iat), String(claims.exp)])
        : await tool(['compact', 'connect+jwt', ...identityArgs(parts), parts.payload]);
    expect(signed.split('.').slice(0, 2)).toEqual(vector.token.split('.').slice(0, 2));
    const { ok: _ok, ...expected } = vector.expect;
    expect(await verifyToken(signed)).toMatchObject(expected);
  });
});

// ------------------------------------------------------------------ the example device against a real node

type Transport = 'http' | 'mqtt';
type Shape = 'single' | 'batch';
const RUNS: Array<[DeviceAlgorithm, Transport, Shape]> = [];
for (const alg of ['ES256', 'EdDSA'] as const) {
  for (const transport of ['http', 'mqtt'] as const) {
    for (const shape of ['single', 'batch'] as const) RUNS.push([alg, transport, shape]);
  }
}
const deviceId = (alg: string, transport: string, shape: string) => `c-${alg.toLowerCase()}-${transport}-${shape}`;

describe('the Linux example device (devices/c/examples/linux) against a real telemetry serve node', () => {
  let dir: string;
  let node: ServeProcess;
  let mqttAddress: string;
  let operatorToken: string;
  const devices = new Map<string, TestDevice>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'c-device-'));
    for (const [alg, transport, shape] of RUNS) {
      const id = deviceId(alg, transport, shape);
      devices.set(id, await makeDevice(id, alg));
    }
    const operators = await generateKey('ES256', 'operators.k1');
    await writeFile(
      join(dir, 'registry.jwks.json'),
      JSON.stringify({ keys: [...devices.values()].map((d) => d.publicJwk) }),
    );
    await writeFile(join(dir, 'operators.jwks.json'), JSON.stringify({ keys: [operators.publicJwk] }));
    operatorToken = await issueOperatorToken({
      issuerKey: operators.privateJwk,
      subject: 'c-library-test',
      scope: 'read',
      lifetimeSeconds: 3600,
      now: Date.now(),
    });
    // The embedded defaults: DuckDB store in the data folder, embedded MQTT broker.
    node = await startServe({
      cwd: dir,
      env: {
        TELEMETRY_MQTT_PORT: '0',
        TELEMETRY_DATA_DIR: join(dir, 'data'),
        TELEMETRY_KEY_REGISTRY: join(dir, 'registry.jwks.json'),
        TELEMETRY_OPERATOR_ISSUERS: join(dir, 'operators.jwks.json'),
        TELEMETRY_BATCH_MAX_WAIT_MS: '1',
        TELEMETRY_LOG_LEVEL: 'warn',
      },
    });
    const mqtt = /mqtt: mqtt:\/\/([\d.]+:\d+)/.exec(node.output())?.[1];
    if (mqtt === undefined) throw new Error(`the node does not say where its broker listens:\n${node.output()}`);
    mqttAddress = mqtt;
  }, 120_000);

  afterAll(async () => {
    await node?.stop('SIGTERM');
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function storedReadings(device: string, from: number) {
    const url = `${node.httpUrl}/v1/query/readings?device=${device}&from=${from}&to=${from + 3_600_000}&limit=1000`;
    const response = await fetch(url, { headers: { authorization: `Bearer ${operatorToken}` } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { items: Array<{ metric: string; ts: number; value: number }> };
    return body.items.map((item) => [item.metric, item.ts, item.value]);
  }

  it.each(RUNS)(
    'stores %s readings sent over %s (%s messages) once, though every message is sent twice',
    async (alg, transport, shape) => {
      const device = devices.get(deviceId(alg, transport, shape)) as TestDevice;
      const readings = 6;
      const ts = Date.now() - 600_000;
      // The one end-to-end run under the sanitizers: the library inside a real client, with libcurl.
      const asan = alg === 'EdDSA' && transport === 'http' && shape === 'batch';
      const stdout = await program(
        join(asan ? sanitized : build, 'device_demo'),
        [
          '--device',
          device.id,
          '--kid',
          String(device.privateJwk.kid),
          '--alg',
          alg,
          '--d',
          String(device.privateJwk.d),
          ...(transport === 'http' ? ['--http', node.httpUrl] : ['--mqtt', mqttAddress]),
          ...(shape === 'batch' ? ['--batch', '--per-message', '4'] : []),
          '--readings',
          String(readings),
          '--ts',
          String(ts),
          '--seq-file',
          join(dir, `${device.id}.seq`),
          '--twice',
        ],
        { ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1', UBSAN_OPTIONS: 'halt_on_error=1' },
      );
      // Over MQTT, delivered means the node's acknowledgement on devices/{device}/acks (PROTOCOL.md §10.3).
      if (transport === 'mqtt') expect(stdout).toContain('acks subscription granted');
      const messageCount = shape === 'batch' ? 2 : readings;
      expect(stdout).toContain(
        `messages ${messageCount * 2}, stored ${messageCount * 2}, dropped 0, evicted 0, pending 0`,
      );
      const expected: Array<[string, number, number]> = [];
      for (let i = 0; i < readings; i++) expected.push(['rssi.dbm', ts + i * 1000, -70 - i]);
      for (let i = 0; i < readings; i++) expected.push(['temperature', ts + i * 1000, 20 + i * 0.1]);
      expect(await storedReadings(device.id, ts)).toEqual(expected);
    },
    90_000,
  );
});

describe('the Linux example device over a broker that acknowledges end to end', () => {
  it('counts a message delivered only when an ack names its seq, resends on silence and after retryAfter, and drops on a final notice', async () => {
    const broker = await startMosquitto();
    const standIn = await connectAsync(broker.url, { clientId: `stand-in-node-${process.pid}`, reconnectPeriod: 0 });
    try {
      // A stand-in for a node: it answers each message on the device's acks or errors topic, as PROTOCOL.md says.
      const arrivals = new Map<number, number>();
      standIn.on('message', (topic, payload) => {
        const device = topic.split('/')[1];
        const { seq } = JSON.parse(text(payload.toString().split('.')[1] ?? '')) as { seq: number };
        const times = (arrivals.get(seq) ?? 0) + 1;
        arrivals.set(seq, times);
        const reply = (kind: 'acks' | 'errors', body: object) =>
          standIn.publish(`devices/${device}/${kind}`, JSON.stringify(body));
        if (seq === 0 && times === 1) return; // lost on the way: neither ack nor notice
        if (seq === 1 && times === 1) {
          reply('errors', { seq, code: 'ERR_OVERLOADED', message: 'busy', retryable: true, retryAfter: 1 });
          return;
        }
        if (seq === 2) {
          reply('errors', { seq, code: 'ERR_TIMESTAMP_UNIT', message: 'seconds?', retryable: false });
          return;
        }
        if (seq === 3) return; // acknowledged with 4, in one ack, out of order and repeated
        reply('acks', { seqs: seq === 4 ? [4, 3, 4] : [seq] });
      });
      await standIn.subscribeAsync('devices/+/messages', { qos: 1 });
      const device = await makeDevice('c-acks', 'EdDSA');
      const { code, stdout } = await programExit(join(build, 'device_demo'), [
        '--device',
        device.id,
        '--kid',
        String(device.privateJwk.kid),
        '--alg',
        'EdDSA',
        '--d',
        String(device.privateJwk.d),
        '--mqtt',
        broker.url.replace('mqtt://', ''),
        '--readings',
        '5',
        '--ack-timeout',
        '3000',
      ]);
      expect(stdout).toContain('acks subscription granted');
      expect(stdout).toContain('dropped seq 2: ERR_TIMESTAMP_UNIT');
      expect(stdout).toContain('messages 5, stored 4, dropped 1, evicted 0, pending 0');
      expect(code).toBe(1); // something was dropped
      // The broker's PUBACK for seq 0 did not count: without an ack it was published again, the same bytes.
      expect(arrivals.get(0)).toBeGreaterThanOrEqual(2);
      expect(arrivals.get(1)).toBe(2);
      expect(arrivals.get(2)).toBe(1);
      expect(arrivals.get(4)).toBe(1);
    } finally {
      await standIn.endAsync(true);
      await broker.stop();
    }
  }, 60_000);
});
