import type { JWK } from 'jose';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { DeviceKeys, generateKey, issueOperatorToken, JwksRegistry } from '../../src/index.js';
import type { Reading } from '../../src/protocol/message.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import type { StoredPoint } from '../../src/store/telemetry-store.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';

/** The node's clock in these tests. */
export const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
export const MINUTE = 60_000;
export const DAY = 86_400_000;

/** An operator issuer: its private key signs tokens, its public key set is what nodes trust. */
export interface OperatorIssuer {
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
  readonly issuers: JwksRegistry;
  token(scope: string, options?: { now?: number; lifetimeSeconds?: number; subject?: string }): Promise<string>;
}

export async function makeOperatorIssuer(kid = 'operators.k1'): Promise<OperatorIssuer> {
  const { privateJwk, publicJwk } = await generateKey('ES256', kid);
  return {
    privateJwk,
    publicJwk,
    issuers: JwksRegistry.fromDocument({ keys: [publicJwk] }, 'operator issuers', { requireSub: false }),
    token: (scope, options = {}) =>
      issueOperatorToken({
        issuerKey: privateJwk,
        subject: options.subject ?? 'test-operator',
        scope,
        lifetimeSeconds: options.lifetimeSeconds ?? 3600,
        now: options.now ?? NOW,
      }),
  };
}

/** A query test world: an in-memory store, three devices, an operator issuer and a node reading them. */
export interface QueryWorld {
  readonly store: DuckDbStore;
  readonly devices: { readonly boiler1: TestDevice; readonly boiler2: TestDevice; readonly pump: TestDevice };
  readonly operators: OperatorIssuer;
  readonly node: IngestNode;
  /** Builds another node on the same store (as if behind the same load balancer). */
  /** `now: 'real'` gives the node the real clock; by default it is frozen at NOW. */
  buildNode(options?: { operatorIssuers?: JwksRegistry | null; now?: number | 'real' }): Promise<IngestNode>;
  close(): Promise<void>;
}

export async function openQueryWorld(): Promise<QueryWorld> {
  const store = await DuckDbStore.open({ path: ':memory:' });
  const devices = {
    boiler1: await makeDevice('boiler-1', 'ES256'),
    boiler2: await makeDevice('boiler-2', 'EdDSA'),
    pump: await makeDevice('pump-1', 'ES256'),
  };
  const operators = await makeOperatorIssuer();
  const nodes: IngestNode[] = [];
  const buildNode: QueryWorld['buildNode'] = async (options = {}) => {
    const issuers = options.operatorIssuers === undefined ? operators.issuers : options.operatorIssuers;
    const node = await buildIngest({
      config: parseConfig({ TELEMETRY_BATCH_MAX_WAIT_MS: '1' }),
      store,
      keys: new DeviceKeys({ registry: () => registryOf(devices.boiler1, devices.boiler2, devices.pump) }),
      ...(issuers === null ? {} : { operatorIssuers: () => issuers }),
      now: options.now === 'real' ? Date.now : () => (options.now as number | undefined) ?? NOW,
    });
    nodes.push(node);
    return node;
  };
  const node = await buildNode();
  return {
    store,
    devices,
    operators,
    node,
    buildNode,
    async close() {
      for (const n of nodes) await n.close(1000);
      await store.close();
    },
  };
}

/** The points a list of readings becomes, in the store's order: device, metric, ts. */
export function pointsOf(readings: readonly Reading[]): StoredPoint[] {
  return readings
    .flatMap((r) => Object.entries(r.values).map(([metric, value]) => ({ device: r.device, metric, ts: r.ts, value })))
    .sort((a, b) =>
      a.device < b.device
        ? -1
        : a.device > b.device
          ? 1
          : a.metric < b.metric
            ? -1
            : a.metric > b.metric
              ? 1
              : a.ts - b.ts,
    );
}
