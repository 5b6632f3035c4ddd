/**
 * What every conformance suite builds its nodes from: the test vectors of docs/PROTOCOL.md §12 (their clock,
 * settings, trusted keys and signing keys), one extra device per node condition, and how to put a node into
 * each condition (cases.ts names them; the suites run them over their transport).
 */
import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import { expect } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { parseConfig } from '../../src/config/parse-config.js';
import {
  CredentialKeySource,
  type DeviceKeySource,
  DeviceKeys,
  type DeviceSigner,
  deviceSignerFromJwk,
  JwksRegistry,
  signConnectionToken,
  signMessage,
  TelemetryError,
} from '../../src/index.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { makeDevice, type TestDevice } from '../support/devices.js';
import { HeldStore } from '../support/held-store.js';

interface VectorFile<C> {
  readonly now: number;
  readonly settings: {
    readonly maxMessageBytes: number;
    readonly maxReadingsPerMessage: number;
    readonly maxValuesPerReading: number;
    readonly maxReadingAgeMs: number;
    readonly clockSkewSeconds: number;
    readonly tokenAudience: string;
    readonly maxTokenLifetimeSeconds: number;
  };
  readonly registry: { readonly keys: ReadonlyArray<JWK & { sub?: string }> };
  readonly issuers: unknown;
  readonly deviceKeys: Readonly<Record<string, JWK>>;
  readonly cases: readonly C[];
}

type Expect = { readonly ok: true } | { readonly ok: false; readonly error: string };
export interface MessageVector {
  readonly name: string;
  readonly message: string;
  readonly context?: { readonly expectedDevice: string };
  readonly expect: Expect;
}
export interface TokenVector {
  readonly name: string;
  readonly token: string;
  readonly expect: Expect;
}

function loadVectors<C>(name: string): VectorFile<C> {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as VectorFile<C>;
}

export const MESSAGE_VECTORS = loadVectors<MessageVector>('messages.json');
export const TOKEN_VECTORS = loadVectors<TokenVector>('connection-tokens.json');
/** The node's clock: the vectors' `now`, frozen. */
export const NOW = MESSAGE_VECTORS.now;
const { settings } = MESSAGE_VECTORS;

/** A node's settings: the vectors' limits, and small caps so the conditions below are quick to reach. */
const WORLD_ENV: Record<string, string> = {
  TELEMETRY_MAX_MESSAGE_BYTES: String(settings.maxMessageBytes),
  TELEMETRY_MAX_READINGS_PER_MESSAGE: String(settings.maxReadingsPerMessage),
  TELEMETRY_MAX_VALUES_PER_READING: String(settings.maxValuesPerReading),
  TELEMETRY_MAX_READING_AGE_SECONDS: String(settings.maxReadingAgeMs / 1000),
  TELEMETRY_CLOCK_SKEW_SECONDS: String(settings.clockSkewSeconds),
  TELEMETRY_TOKEN_AUDIENCE: settings.tokenAudience,
  TELEMETRY_MAX_TOKEN_LIFETIME_SECONDS: String(settings.maxTokenLifetimeSeconds),
  TELEMETRY_BATCH_MAX_WAIT_MS: '1',
  TELEMETRY_RATE_LIMIT_PER_DEVICE: '3',
  TELEMETRY_MAX_INFLIGHT_READINGS: String(settings.maxReadingsPerMessage),
  TELEMETRY_BATCH_MAX_READINGS: String(settings.maxReadingsPerMessage),
};

/** The state of the node (or of what it depends on) that makes it refuse a valid message with a code. */
export type Condition =
  | 'rate-limited'
  | 'overloaded'
  | 'store-unavailable'
  | 'store-rejected'
  | 'internal-failure'
  | 'draining';

const CONDITIONS: readonly Condition[] = [
  'rate-limited',
  'overloaded',
  'store-unavailable',
  'store-rejected',
  'internal-failure',
  'draining',
];

/** A key id the node's key source fails on with a plain Error: the node's own unexpected failure. */
const FAILING_KID = 'conformance-internal-failure.failing';

/** Seconds the conditions' stores ask a device to wait. */
export const STORE_RETRY_AFTER = 1;

/** The devices of a suite: the vectors' registered ones (by id) and one per condition. */
export interface World {
  readonly keys: DeviceKeySource;
  /** A signer for each device a node trusts by registry key: the vectors' and the conditions'. */
  readonly signers: ReadonlyMap<string, DeviceSigner>;
  /** The device a condition's message comes from. */
  readonly conditionDevice: Readonly<Record<Condition, TestDevice>>;
  /** A device whose messages fill the node's in-flight cap for 'overloaded'. */
  readonly filler: TestDevice;
}

export async function openWorld(): Promise<World> {
  const entries = await Promise.all(
    CONDITIONS.map(async (condition) => [condition, await makeDevice(`conformance-${condition}`, 'ES256')] as const),
  );
  const conditionDevice = Object.fromEntries(entries) as Record<Condition, TestDevice>;
  const filler = await makeDevice('conformance-filler', 'EdDSA');
  const ours = [...entries.map(([, device]) => device), filler];
  const registry = JwksRegistry.fromDocument({
    keys: [...MESSAGE_VECTORS.registry.keys, ...ours.map((device) => device.publicJwk)],
  });
  const issuers = JwksRegistry.fromDocument(MESSAGE_VECTORS.issuers, 'issuers', { requireSub: false });
  const trusted = new DeviceKeys({
    registry: () => registry,
    credentials: new CredentialKeySource({ issuers: () => issuers, clockSkewSeconds: settings.clockSkewSeconds }),
  });
  const keys: DeviceKeySource = {
    resolve: (header, now) =>
      header.kid === FAILING_KID ? Promise.reject(new Error('the key source broke')) : trusted.resolve(header, now),
  };
  const signers = new Map<string, DeviceSigner>();
  for (const key of MESSAGE_VECTORS.registry.keys) {
    const jwk = key.sub === undefined ? undefined : MESSAGE_VECTORS.deviceKeys[key.sub];
    if (jwk !== undefined && key.sub !== undefined) signers.set(key.sub, await deviceSignerFromJwk(jwk));
  }
  for (const device of ours) signers.set(device.id, device.signer);
  return { keys, signers, conditionDevice, filler };
}

/** A node of the world on `store`, built but not listening. */
export async function buildWorldNode(
  world: World,
  store: HeldStore,
  env: Record<string, string> = {},
): Promise<IngestNode> {
  return buildIngest({ config: parseConfig({ ...WORLD_ENV, ...env }), store, keys: world.keys, now: () => NOW });
}

/** A fresh in-memory store that a suite can hold or fail. */
export async function openStore(): Promise<HeldStore> {
  return new HeldStore(await DuckDbStore.open({ path: ':memory:' }));
}

function signerOf(world: World, device: string): DeviceSigner {
  const signer = world.signers.get(device);
  if (signer === undefined) throw new Error(`no signing key for ${device}`);
  return signer;
}

/** A valid message of `device`, one reading `seq` ms before NOW. */
export function validMessage(world: World, device: string, seq: number): Promise<string> {
  return signMessage(signerOf(world, device), seq, [{ ts: NOW - 1000 - seq, values: { t: seq } }]);
}

/** A connection token `device` signs for the embedded broker, valid from NOW for `lifetimeSeconds`. */
export function connectionToken(world: World, device: string, lifetimeSeconds = 600): Promise<string> {
  return signConnectionToken(signerOf(world, device), {
    now: NOW,
    lifetimeSeconds,
    audience: settings.tokenAudience,
  });
}

async function postMessage(node: IngestNode, message: string) {
  return node.app.inject({
    method: 'POST',
    url: '/v1/messages',
    headers: { 'content-type': 'application/jose' },
    payload: message,
  });
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in time`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A condition put in place: the device and message to send now, and how to undo the condition. */
export interface Arranged {
  readonly device: string;
  readonly message: string;
  undo(): Promise<void>;
}

/**
 * Puts `node` (on `store`) into `condition` and returns the valid message it must now refuse. 'draining' cannot
 * be undone: give it a node of its own. 'rate-limited' spends the device's whole allowance, which never comes
 * back (the clock is frozen), so it holds on that node from then on.
 */
export async function arrange(
  world: World,
  node: IngestNode,
  store: HeldStore,
  condition: Condition,
): Promise<Arranged> {
  const device = world.conditionDevice[condition].id;
  const nothing = async () => undefined;
  switch (condition) {
    case 'rate-limited': {
      // Spends what is left of the device's allowance on this node: all of it the first time.
      for (let seq = 1; seq <= 3; seq++) {
        expect([200, 429]).toContain((await postMessage(node, await validMessage(world, device, seq))).statusCode);
      }
      return { device, message: await validMessage(world, device, 4), undo: nothing };
    }
    case 'overloaded': {
      store.hold();
      const readings = Array.from({ length: settings.maxReadingsPerMessage }, (_, i) => ({
        ts: NOW - 5000 - i,
        values: { t: i },
      }));
      const fill = postMessage(node, await signMessage(world.filler.signer, 1, readings));
      await until(() => node.writer.inflight === settings.maxReadingsPerMessage, 'the in-flight cap to fill');
      return {
        device,
        message: await validMessage(world, device, 1),
        async undo() {
          store.release();
          expect((await fill).statusCode).toBe(200);
        },
      };
    }
    case 'store-unavailable':
    case 'store-rejected': {
      const code = condition === 'store-unavailable' ? 'ERR_STORE_UNAVAILABLE' : 'ERR_STORE_REJECTED';
      store.fail(new TelemetryError(code, `the store says ${code}`, { retryAfter: STORE_RETRY_AFTER }));
      return {
        device,
        message: await validMessage(world, device, 1),
        async undo() {
          store.heal();
        },
      };
    }
    case 'internal-failure': {
      const signer = { ...signerOf(world, device), kid: FAILING_KID };
      return { device, message: await signMessage(signer, 1, [{ ts: NOW - 1000, values: { t: 1 } }]), undo: nothing };
    }
    case 'draining': {
      node.beginDrain();
      return { device, message: await validMessage(world, device, 1), undo: nothing };
    }
  }
}
