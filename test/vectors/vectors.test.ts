import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CredentialKeySource,
  DeviceKeys,
  ERROR_POLICIES,
  type ErrorCode,
  HTTP_ONLY_CODES,
  JwksRegistry,
  TelemetryError,
  verifyConnectionToken,
  verifyMessage,
} from '../../src/index.js';

interface VectorFile<C> {
  now: number;
  settings: {
    maxMessageBytes: number;
    maxReadingsPerMessage: number;
    maxValuesPerReading: number;
    maxReadingAgeMs: number;
    maxFutureSkewMs: number;
    clockSkewSeconds: number;
    tokenAudience: string;
    maxTokenLifetimeSeconds: number;
  };
  registry: unknown;
  issuers: unknown;
  cases: C[];
}
type Expect = { ok: true; [key: string]: unknown } | { ok: false; error: ErrorCode };

const load = <C>(name: string) => JSON.parse(readFileSync(new URL(name, import.meta.url), 'utf8')) as VectorFile<C>;
const messages = load<{ name: string; message: string; context?: { expectedDevice: string }; expect: Expect }>(
  './messages.json',
);
const tokens = load<{ name: string; token: string; expect: Expect }>('./connection-tokens.json');

function keysFor(file: VectorFile<unknown>): DeviceKeys {
  const registry = JwksRegistry.fromDocument(file.registry);
  const issuers = JwksRegistry.fromDocument(file.issuers, 'issuers', { requireSub: false });
  return new DeviceKeys({
    registry: () => registry,
    credentials: new CredentialKeySource({ issuers: () => issuers, clockSkewSeconds: file.settings.clockSkewSeconds }),
  });
}

async function outcome<T>(run: () => Promise<T>): Promise<T | ErrorCode> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof TelemetryError) return error.code;
    throw error;
  }
}

/** Codes that depend on the node's state or transport, not on message bytes: covered by the transport tests. */
const NOT_FROM_MESSAGE_BYTES: readonly ErrorCode[] = [
  'ERR_UNSUPPORTED_MEDIA_TYPE',
  'ERR_TOPIC_FORBIDDEN',
  'ERR_RATE_LIMITED',
  'ERR_OVERLOADED',
  'ERR_STORE_UNAVAILABLE',
  'ERR_STORE_REJECTED',
  'ERR_INTERNAL',
  'ERR_SHUTTING_DOWN',
  // HTTP routes' own codes: an unknown route, a timeout, and the query API.
  ...HTTP_ONLY_CODES,
];

describe('test vectors (test/vectors/*.json, part of docs/PROTOCOL.md)', () => {
  const keys = keysFor(messages);
  const deps = { keys, limits: messages.settings, now: () => messages.now };

  it.each(messages.cases.map((c) => [c.name, c] as const))('message: %s', async (_name, vector) => {
    const result = await outcome(() => verifyMessage(vector.message, deps, vector.context));
    if (vector.expect.ok) {
      const { ok: _ok, ...expected } = vector.expect;
      expect(result).toMatchObject(expected);
    } else {
      expect(result).toBe(vector.expect.error);
    }
  });

  const tokenKeys = keysFor(tokens);
  it.each(tokens.cases.map((c) => [c.name, c] as const))('connection token: %s', async (_name, vector) => {
    const result = await outcome(() =>
      verifyConnectionToken(vector.token, {
        keys: tokenKeys,
        audience: tokens.settings.tokenAudience,
        now: tokens.now,
        clockSkewSeconds: tokens.settings.clockSkewSeconds,
        maxLifetimeSeconds: tokens.settings.maxTokenLifetimeSeconds,
      }),
    );
    if (vector.expect.ok) {
      const { ok: _ok, ...expected } = vector.expect;
      expect(result).toMatchObject(expected);
    } else {
      expect(result).toBe(vector.expect.error);
    }
  });

  it('holds at least one vector for every error code a message or token can trigger by its bytes', () => {
    const covered = new Set<string>(
      [...messages.cases, ...tokens.cases].flatMap((c) => (c.expect.ok ? [] : [c.expect.error])),
    );
    const missing = (Object.keys(ERROR_POLICIES) as ErrorCode[]).filter(
      (code) => !covered.has(code) && !NOT_FROM_MESSAGE_BYTES.includes(code),
    );
    expect(missing).toEqual([]);
  });
});
