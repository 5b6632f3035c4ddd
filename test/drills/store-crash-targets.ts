/**
 * The stores the store-crash drill (store-crash.test.ts) kills: how each is started for a node, killed, started
 * again on its data and read back, and the loss on a hard kill documented for it (docs/STORAGE.md).
 */
import { join } from 'node:path';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';
import { VICTORIA_METRICS_DIFFERENCES, VictoriaMetricsStore } from '../../src/store/victoria-metrics-store.js';
import { startInfluxDb } from '../support/influxdb-server.js';
import { killChildNamed } from '../support/kill-child.js';
import type { ServeProcess } from '../support/serve-process.js';
import { startVictoriaMetrics } from '../support/victoria-metrics-server.js';

/** The store, started, as the node and the drill see it. */
export interface RunningStore {
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

export interface CrashTarget {
  readonly name: string;
  /** The store's flags or settings that matter here, for the result line. */
  readonly configuration: string;
  /** Load before the kill; longer than the documented loss window, so the window can show. */
  readonly loadMs: number;
  /** The documented bound of acknowledged loss: 0 for a durable store. */
  readonly lossWindowMs: number;
  start(dir: string): Promise<RunningStore>;
}

export const TARGETS: readonly CrashTarget[] = [
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
