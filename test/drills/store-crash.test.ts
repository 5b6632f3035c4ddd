import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signMessage } from '../../src/index.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';
import { VICTORIA_METRICS_DIFFERENCES, VictoriaMetricsStore } from '../../src/store/victoria-metrics-store.js';
import { makeDevice, type TestDevice } from '../support/devices.js';
import { startInfluxDb } from '../support/influxdb-server.js';
import { killChildNamed } from '../support/kill-child.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';
import { startVictoriaMetrics } from '../support/victoria-metrics-server.js';

/**
 * The store-crash drill: `telemetry serve` under steady HTTP load from devices that each send one signed message
 * at a time and record every reading acknowledged with a 200; the store is killed with SIGKILL mid-load (for the
 * embedded DuckDB store, the node itself, which holds the file), started again on the same data, and every
 * acknowledged reading is looked up. What is missing is what "acknowledged" did not cover, and the loss window is
 * how long before the kill the oldest missing reading was acknowledged.
 *
 * Stores documented durable on a hard kill must lose nothing; VictoriaMetrics 1.79.5, which has no setting that
 * makes it so (docs/STORAGE.md, "Hard kill of the store"), must stay within its documented window.
 */

const DEVICES = 8;
const METRIC = 'v';
/** A bound on each device's messages, in case the kill never comes. */
const MAX_MESSAGES_PER_DEVICE = 20_000;

/** The store, started, as the node and the drill see it. */
interface RunningStore {
  /** The node's store settings. */
  readonly env: NodeJS.ProcessEnv;
  /** SIGKILLs the process that holds the data and resolves once it is gone. */
  crash(node: ServeProcess): Promise<void>;
  /** Starts the store again on the same data, as a store the drill can read. */
  reopen(): Promise<TelemetryStore>;
  /** Makes what the reopened store holds searchable now. */
  flush(): Promise<void>;
  /** Stops everything and removes the data. */
  close(): Promise<void>;
}

interface CrashTarget {
  readonly name: string;
  /** The store's flags or settings that matter here, for the result line. */
  readonly configuration: string;
  /** Load before the kill; longer than the documented loss window, so the window can show. */
  readonly loadMs: number;
  /** The documented bound of acknowledged loss: 0 for a durable store. */
  readonly lossWindowMs: number;
  start(dir: string): Promise<RunningStore>;
}

const TARGETS: readonly CrashTarget[] = [
  {
    name: 'InfluxDB 1.6.7',
    configuration: 'wal-fsync-delay = "0s" (the default)',
    loadMs: 5_000,
    lossWindowMs: 0,
    async start() {
      const server = await startInfluxDb();
      let reader: InfluxStore | undefined;
      return {
        env: {
          TELEMETRY_STORE: 'influxdb',
          TELEMETRY_INFLUX_URL: server.url,
          TELEMETRY_INFLUX_API: 'v1',
          TELEMETRY_INFLUX_BUCKET: server.database,
        },
        crash: async () => {
          await killChildNamed('influxd');
        },
        async reopen() {
          await server.halt(); // forgets the killed process
          await server.resume();
          reader = new InfluxStore({
            url: server.url,
            api: 'v1',
            database: server.database,
            timeoutMs: 5_000,
            queryMode: 'influxql',
          });
          return reader;
        },
        flush: async () => {},
        async close() {
          await reader?.close();
          await server.stop();
        },
      };
    },
  },
  {
    name: 'VictoriaMetrics 1.79.5',
    configuration: 'default flags (besides the required -dedup.minScrapeInterval=1ms)',
    loadMs: 15_000,
    lossWindowMs: VICTORIA_METRICS_DIFFERENCES.hardKillLossWindowMs,
    async start() {
      const server = await startVictoriaMetrics();
      let reader: VictoriaMetricsStore | undefined;
      return {
        env: { TELEMETRY_STORE: 'victoriametrics', TELEMETRY_INFLUX_URL: server.url, TELEMETRY_INFLUX_API: 'v2' },
        crash: async () => {
          await killChildNamed('victoria-metrics');
        },
        async reopen() {
          await server.halt();
          await server.resume();
          reader = new VictoriaMetricsStore({
            url: server.url,
            api: 'v2',
            org: '',
            bucket: 'telemetry',
            timeoutMs: 5_000,
          });
          return reader;
        },
        flush: () => server.flush(),
        async close() {
          await reader?.close();
          await server.stop();
        },
      };
    },
  },
  {
    name: 'embedded DuckDB',
    configuration: 'TELEMETRY_STORE=embedded: the node process holds the file',
    loadMs: 5_000,
    lossWindowMs: 0,
    async start(dir) {
      const dataDir = join(dir, 'data');
      let reader: DuckDbStore | undefined;
      return {
        env: { TELEMETRY_STORE: 'embedded', TELEMETRY_DATA_DIR: dataDir },
        async crash(node) {
          await node.stop('SIGKILL');
        },
        async reopen() {
          reader = await DuckDbStore.open({ path: join(dataDir, 'telemetry.duckdb') });
          return reader;
        },
        flush: async () => {},
        async close() {
          await reader?.close();
        },
      };
    },
  },
];

interface Ack {
  readonly key: string;
  readonly at: number;
}

interface LoadRecord {
  stopped: boolean;
  readonly acks: Ack[];
  /** Every message a device sent at least once, by key. */
  readonly sent: Set<string>;
  readonly refusals: Map<string, number>;
  /** Requests that got no answer (the node was gone). */
  noAnswer: number;
}

const keyOf = (device: string, ts: number): string => `${device}\u0000${ts}`;

let devices: TestDevice[];
let dir: string | undefined;
let node: ServeProcess | undefined;
let running: RunningStore | undefined;
let load: LoadRecord | undefined;

beforeAll(async () => {
  devices = await Promise.all(Array.from({ length: DEVICES }, (_, i) => makeDevice(`crash-${i}`, 'ES256')));
});

afterEach(async () => {
  if (load !== undefined) load.stopped = true;
  load = undefined;
  await node?.stop('SIGKILL');
  node = undefined;
  await running?.close();
  running = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** One message at a time, each until acknowledged (resent after a refusal), until the load stops. */
async function runDevice(device: TestDevice, url: string, base: number, record: LoadRecord): Promise<void> {
  for (let seq = 1; seq <= MAX_MESSAGES_PER_DEVICE && !record.stopped; seq++) {
    const ts = base + seq;
    const key = keyOf(device.id, ts);
    const jws = await signMessage(device.signer, seq, [{ ts, values: { [METRIC]: seq } }]);
    record.sent.add(key);
    for (;;) {
      let response: Response;
      try {
        response = await fetch(`${url}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/jose' },
          body: jws,
        });
      } catch {
        record.noAnswer++;
        return; // the node is gone: a real device would keep the message and try again later
      }
      if (response.status === 200) {
        await response.arrayBuffer();
        record.acks.push({ key, at: Date.now() });
        break;
      }
      const { error } = (await response.json()) as { error: { code: string } };
      record.refusals.set(error.code, (record.refusals.get(error.code) ?? 0) + 1);
      if (record.stopped) return;
      await delay(50);
    }
  }
}

/** Every stored key of `deviceIds` between `start` and `end`, following cursors. */
async function storedKeys(store: TelemetryStore, deviceIds: string[], start: number, end: number) {
  const keys = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.queryReadings({
      devices: deviceIds,
      range: { start, end },
      limit: 10_000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const p of page.items) keys.add(keyOf(p.device, p.ts));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return keys;
}

const percent = (part: number, whole: number): number => Math.round((part / Math.max(whole, 1)) * 1000) / 10;

describe.each(TARGETS)('a hard kill (SIGKILL) of the store under load, on $name', (target) => {
  const durable = target.lossWindowMs === 0;
  it(durable
    ? 'loses no acknowledged reading'
    : 'loses acknowledged readings only within the documented window before the kill', async ({ annotate }) => {
    const t0 = Date.now();
    dir = await mkdtemp(join(tmpdir(), 'store-crash-'));
    const registry = join(dir, 'registry.jwks.json');
    await writeFile(registry, JSON.stringify({ keys: devices.map((d) => d.publicJwk) }));
    running = await target.start(dir);
    const store = running;
    node = await startServe({
      cwd: dir,
      env: {
        TELEMETRY_MQTT: 'off',
        TELEMETRY_KEY_REGISTRY: registry,
        TELEMETRY_LOG_LEVEL: 'warn',
        // After the kill, writes fail at once rather than retrying for 3 s: the drill ends sooner, and nothing
        // acknowledged before the kill depends on it.
        TELEMETRY_STORE_WRITE_RETRIES: '0',
        ...store.env,
      },
    });
    const served = node;
    const record: LoadRecord = { stopped: false, acks: [], sent: new Set(), refusals: new Map(), noAnswer: 0 };
    load = record;

    // Distinct, recent timestamps: each device's message seq is its reading's offset from `base`.
    const base = Date.now() - 60_000;
    const loadStart = Date.now();
    const loops = devices.map((d) => runDevice(d, served.httpUrl, base, record));
    const failed = Promise.all(loops).then(() => {
      if (!record.stopped) throw new Error(`the load ended before the kill:\n${served.output()}`);
    });
    await Promise.race([delay(target.loadMs), failed]);
    const acksBeforeKill = record.acks.length;
    expect(record.refusals, 'refusals before the kill').toEqual(new Map());

    const killAt = Date.now();
    await store.crash(served);
    const killedIn = Date.now() - killAt;
    record.stopped = true;
    // Each device ends with its request in flight: answered (a 503 without the store), or not at all.
    await Promise.all(loops);
    const loadEnd = Date.now();

    const reopenStart = Date.now();
    const reader = await store.reopen();
    const reopenMs = Date.now() - reopenStart;
    // Nothing acknowledged can be written later, so what is missing now stays missing: a short grace for stores
    // whose reads lag (VictoriaMetrics: about a second), then the last look counts.
    const deviceIds = devices.map((d) => d.id);
    const end = base + MAX_MESSAGES_PER_DEVICE + 1;
    let stored = new Set<string>();
    for (const deadline = Date.now() + 3_000; ; ) {
      await store.flush();
      stored = await storedKeys(reader, deviceIds, base, end);
      if (record.acks.every((a) => stored.has(a.key)) || Date.now() > deadline) break;
      await delay(250);
    }

    const missing = record.acks.filter((a) => !stored.has(a.key));
    const acked = new Set(record.acks.map((a) => a.key));
    const oldestMissingAt = Math.min(...missing.map((a) => a.at));
    const newestMissingAt = Math.max(...missing.map((a) => a.at));
    const inWindow = record.acks.filter((a) => a.at >= oldestMissingAt);
    const summary = {
      configuration: target.configuration,
      acks: {
        total: record.acks.length,
        beforeKill: acksBeforeKill,
        perSecond: Math.round((acksBeforeKill / (killAt - loadStart)) * 1000),
      },
      missing: missing.length,
      missingPercent: percent(missing.length, record.acks.length),
      // How long before the kill the oldest and the newest missing reading were acknowledged.
      lossWindowMs:
        missing.length === 0 ? null : { oldest: killAt - oldestMissingAt, newest: killAt - newestMissingAt },
      // Of the readings acknowledged since the oldest missing one, how many were stored after all.
      storedWithinWindow: missing.length === 0 ? null : inWindow.length - missing.length,
      sent: record.sent.size,
      unacknowledgedButStored: [...record.sent].filter((k) => !acked.has(k) && stored.has(k)).length,
      refusalsAfterKill: Object.fromEntries(record.refusals),
      noAnswer: record.noAnswer,
      ms: {
        load: killAt - loadStart,
        kill: killedIn,
        devicesSettled: loadEnd - killAt,
        reopen: reopenMs,
        total: Date.now() - t0,
      },
    };
    await annotate(JSON.stringify(summary), 'store-crash');
    console.info('store-crash drill', JSON.stringify({ store: target.name, ...summary }));

    expect(record.acks.length, 'acknowledged readings before the kill').toBeGreaterThan(200);
    // Nothing stored that no device sent.
    for (const key of stored) expect(record.sent.has(key)).toBe(true);
    if (durable) expect(missing.map((a) => ({ ...a, beforeKillMs: killAt - a.at }))).toEqual([]);
    else {
      // The load outlasts the window, so what was acknowledged before it must have survived; then the window
      // measured is the store's, not the load's.
      expect(missing.length).toBeLessThan(record.acks.length);
      expect(summary.lossWindowMs?.oldest ?? 0).toBeLessThanOrEqual(target.lossWindowMs);
    }
  }, 90_000);
});
