import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CredentialKeySource,
  type DeviceAlgorithm,
  DeviceKeys,
  JwksRegistry,
  type ProtocolLimits,
  verifyConnectionToken,
  verifyMessage,
} from '../../src/index.js';
import { buildC, type CBuild, program, run } from './c-build.js';

/** What the core may call from the C library: memory, strings and number text, nothing that allocates or does I/O. */
const PURE_LIBC = ['memcmp', 'memcpy', 'memset', 'strlen', 'strcmp', 'snprintf', 'strtod', 'floor', 'ceil', 'fabs'];

let c: CBuild;

beforeAll(async () => {
  c = await buildC(['unit_tests', 'td_tool']);
}, 240_000);

afterAll(async () => {
  await c?.remove();
});

describe('the C device library (devices/c)', () => {
  it('passes its unit tests, built with -std=c99 -pedantic -Wall -Wextra -Werror', async () => {
    const stdout = await program(join(c.dir, 'unit_tests'), []);
    expect(stdout).toMatch(/^\d+ checks, 0 failed$/m);
    expect(stdout).not.toMatch(/^FAIL/m);
  });

  it('allocates nothing, does no I/O and keeps no global state outside its signers', async () => {
    // The core's objects (the signers are mbedTLS's and libsodium's business): what they call, what they hold.
    const core = ['td_encoding', 'td_message', 'td_answers', 'td_seq', 'td_backlog'].map((o) => join(c.dir, `${o}.o`));
    const { stdout } = await run('nm', core);
    const symbols = stdout.split('\n').map((line) => line.trim().split(/\s+/));
    const called = symbols.filter(([type, name]) => type === 'U' && !name?.startsWith('td_')).map(([, name]) => name);
    expect(new Set(called)).toEqual(new Set(called.filter((name) => PURE_LIBC.includes(name ?? ''))));
    expect(called).toContain('snprintf');
    // .data and .bss symbols, global or static: state that would outlive a call. Constant tables are .rodata.
    expect(symbols.filter(([, type]) => /^[BbDdCc]$/.test(type ?? ''))).toEqual([]);
  });

  it('passes them again under AddressSanitizer and UndefinedBehaviorSanitizer', async () => {
    const stdout = await program(join(c.sanitized, 'unit_tests'), [], {
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
  const tool = (args: string[]) => program(join(c.dir, 'td_tool'), args).then((out) => out.trim());

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
