import { mkdtempSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../ingest/mqtt/embedded-broker.js';
import {
  acknowledgedPoints,
  DEFAULT_BACKOFF,
  type FleetKeySource,
  type FleetManifest,
  loadFleetSigners,
  provisionFleet,
  RUN_DEFAULTS,
  type RunOptions,
  type RunReport,
  readFleet,
} from '../../simulator/index.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { CredentialKeySource, DeviceKeys, JwksRegistry } from '../../src/index.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { makeOperatorIssuer } from '../query/query-fixture.js';
import { HeldStore } from '../support/held-store.js';

/** The node's key source for a provisioned fleet: its registry and/or its issuers. */
export function fleetKeys(dir: string, fleet: FleetManifest): DeviceKeys {
  const read = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown;
  const registry = fleet.registryFile === undefined ? undefined : JwksRegistry.fromDocument(read(fleet.registryFile));
  const issuers =
    fleet.issuersFile === undefined
      ? undefined
      : JwksRegistry.fromDocument(read(fleet.issuersFile), 'issuers', { requireSub: false });
  return new DeviceKeys({
    ...(registry === undefined ? {} : { registry: () => registry }),
    ...(issuers === undefined
      ? {}
      : { credentials: new CredentialKeySource({ issuers: () => issuers, clockSkewSeconds: 60 }) }),
  });
}

/** A real in-process node (HTTP on 127.0.0.1, embedded broker) over an in-memory DuckDB behind a HeldStore. */
export interface FleetNode {
  readonly node: IngestNode;
  readonly store: HeldStore;
  readonly httpUrl: string;
  readonly mqttUrl: string;
  /** An operator token (scope `read`) the node's query API accepts. */
  readonly operatorToken: string;
  close(): Promise<void>;
}

export async function startFleetNode(
  dir: string,
  fleet: FleetManifest,
  env: Record<string, string> = {},
): Promise<FleetNode> {
  const store = new HeldStore(await DuckDbStore.open({ path: ':memory:' }));
  const config = parseConfig({ TELEMETRY_BATCH_MAX_WAIT_MS: '2', ...env });
  const keys = fleetKeys(dir, fleet);
  const operators = await makeOperatorIssuer();
  const node = await buildIngest({ config, store, keys, operatorIssuers: () => operators.issuers });
  const operatorToken = await operators.token('read', { now: Date.now() });
  await node.app.listen({ host: '127.0.0.1', port: 0 });
  const broker: EmbeddedBroker = await startEmbeddedBroker(node, {
    keys,
    host: '127.0.0.1',
    port: 0,
    tokenAudience: config.tokenAudience,
    maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
    clockSkewSeconds: config.clockSkewSeconds,
    maxPendingPerConnection: config.mqttMaxPendingPerConnection,
  });
  const { port } = node.app.server.address() as AddressInfo;
  return {
    node,
    store,
    httpUrl: `http://127.0.0.1:${port}`,
    mqttUrl: `mqtt://127.0.0.1:${broker.tcpPort}`,
    operatorToken,
    async close() {
      store.heal();
      store.release();
      await broker.close();
      await node.close(1000);
      await store.close();
    },
  };
}

/** Run options for a short test run over the fleet in `dir`. */
/**
 * Provisions a mixed fleet (thermo, meter, gps; ES256 and EdDSA) into a fresh temp folder and
 * starts a node that trusts it. The caller removes `dir` and closes `node`.
 */
export async function provisionAndStart(options: {
  readonly name: string;
  readonly keySource: FleetKeySource;
  readonly devices: number;
  readonly env?: Record<string, string>;
}): Promise<{ dir: string; node: FleetNode }> {
  const dir = mkdtempSync(join(tmpdir(), `sim-${options.name}-`));
  await provisionFleet({
    dir,
    devices: options.devices,
    alg: 'mixed',
    kinds: ['thermo', 'meter', 'gps'],
    keySource: options.keySource,
    seed: `${options.name}-${options.keySource}`,
    credentialTtlSeconds: 86_400,
    now: Date.now(),
  });
  const node = await startFleetNode(dir, await readFleet(dir), options.env);
  return { dir, node };
}

export async function testRunOptions(dir: string, overrides: Partial<RunOptions>): Promise<RunOptions> {
  const fleet = await readFleet(dir);
  return {
    fleetDir: dir,
    fleet,
    signers: await loadFleetSigners(dir, fleet),
    transport: 'http',
    url: '',
    rate: 5,
    readingsPerMessage: 4,
    durationMs: 2_000,
    rampMs: 200,
    qos: 1,
    offlineShare: 0,
    offlineForMs: 0,
    seed: 'test-run',
    limits: { maxReadingsPerMessage: 1000, maxMessageBytes: 65_536 },
    window: RUN_DEFAULTS.window,
    httpConnections: 8,
    tokenTtlSeconds: 3600,
    audience: 'telemetry-ingest',
    backoff: { ...DEFAULT_BACKOFF, baseMs: 50, maxMs: 1_000 },
    drainTimeoutMs: 15_000,
    ...overrides,
  };
}

/**
 * Checks the store against the report: every acknowledged reading is stored
 * once with the value sent (values recomputed from the seed). Returns the
 * problems found, empty when all is well.
 */
export async function auditStore(
  store: HeldStore,
  report: RunReport,
): Promise<{ checked: number; problems: string[] }> {
  const problems: string[] = [];
  let checked = 0;
  for (const device of report.devices) {
    const stored = new Map<string, number[]>();
    let cursor: string | undefined;
    do {
      const page = await store.queryReadings({
        devices: [device.id],
        range: { start: device.t0 + Math.min(0, device.clockOffsetMs ?? 0) - 1, end: Date.now() + 120_000 },
        limit: 5000,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const point of page.items) {
        const key = `${point.metric}@${point.ts}`;
        stored.set(key, [...(stored.get(key) ?? []), point.value]);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    for (const point of acknowledgedPoints(report, device)) {
      checked++;
      const values = stored.get(`${point.metric}@${point.ts}`) ?? [];
      if (values.length !== 1 || values[0] !== point.value) {
        problems.push(`${device.id} ${point.metric}@${point.ts}: sent ${point.value}, stored [${values.join(', ')}]`);
      }
    }
  }
  return { checked, problems };
}
