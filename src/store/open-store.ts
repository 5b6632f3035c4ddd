import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/config-schema.js';
import { settingProblem } from '../config/setting-problem.js';
import { ConfigError } from '../errors.js';
import { InfluxStore, type InfluxV1Options, type InfluxV2Options } from './influx-store.js';
import type { TelemetryStore } from './telemetry-store.js';
import { VictoriaMetricsStore } from './victoria-metrics-store.js';

/** Opens the store the configuration names: `embedded` (DuckDB), `influxdb` or `victoriametrics`. */
export async function openStore(config: Config): Promise<TelemetryStore> {
  if (config.store === 'embedded') {
    await mkdir(config.dataDir, { recursive: true });
    const { DuckDbStore } = await loadEmbeddedStore();
    return DuckDbStore.open({ path: join(config.dataDir, 'telemetry.duckdb') });
  }
  // parseConfig turns the old spelling (influxdb with TELEMETRY_INFLUX_QUERY=victoriametrics) into
  // victoriametrics; a Config built by hand may still hold it.
  if (config.store === 'victoriametrics' || config.influxQuery === 'victoriametrics') {
    // VictoriaMetrics has no retention policies; parseConfig refuses one with it.
    return new VictoriaMetricsStore(influxOptionsOf({ ...config, influxRetentionPolicy: '' }));
  }
  return new InfluxStore({ ...influxOptionsOf(config), queryMode: 'influxql' });
}

/**
 * DuckDB's store, loaded only for the embedded store: its native library costs every node process that uses
 * another store about 20 MB and 60–100 ms of start-up (docs/OPERATIONS.md, "Workers"). Where the library cannot
 * be loaded (an install without the prebuilt binary for this platform), the start fails naming TELEMETRY_STORE,
 * and nodes on the other stores are not affected.
 */
async function loadEmbeddedStore(): Promise<typeof import('./duckdb-store.js')> {
  try {
    return await import('./duckdb-store.js');
  } catch (error) {
    const reason = error instanceof Error ? (error.message.split('\n', 1)[0] ?? '') : String(error);
    throw new ConfigError(
      [
        settingProblem(
          'store',
          'embedded',
          `DuckDB cannot be loaded on this machine (${reason})`,
          'reinstall with `npm ci` on this platform, or set TELEMETRY_STORE=victoriametrics or influxdb',
        ),
      ],
      { heading: 'cannot start', cause: error },
    );
  }
}

/** What InfluxDB and VictoriaMetrics are reached with: the TELEMETRY_INFLUX_* and TELEMETRY_STORE_* settings. */
function influxOptionsOf(
  config: Config,
): Omit<InfluxV1Options, 'queryMode'> | Omit<InfluxV2Options, 'queryMode' | 'database'> {
  const common = {
    url: config.influxUrl,
    timeoutMs: config.storeTimeoutMs,
    compression: config.influxCompression,
    maxRetries: config.storeWriteRetries,
    retryBudgetMs: config.storeRetryBudgetMs,
    ...(config.influxToken === '' ? {} : { token: config.influxToken }),
    ...(config.influxUsername === '' ? {} : { username: config.influxUsername, password: config.influxPassword }),
  } as const;
  if (config.influxApi === 'v1') {
    return {
      ...common,
      api: 'v1',
      database: config.influxBucket,
      ...(config.influxRetentionPolicy === '' ? {} : { retentionPolicy: config.influxRetentionPolicy }),
    };
  }
  return { ...common, api: 'v2', org: config.influxOrg, bucket: config.influxBucket };
}
