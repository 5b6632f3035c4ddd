import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/config-schema.js';
import { InfluxStore, type InfluxV1Options, type InfluxV2Options } from './influx-store.js';
import type { TelemetryStore } from './telemetry-store.js';
import { VictoriaMetricsStore } from './victoria-metrics-store.js';

/** Opens the store the configuration names: `embedded` (DuckDB), `influxdb` or `victoriametrics`. */
export async function openStore(config: Config): Promise<TelemetryStore> {
  if (config.store === 'embedded') {
    await mkdir(config.dataDir, { recursive: true });
    // Loaded only for the embedded store: DuckDB's native library costs every node process that uses another
    // store about 20 MB and 60–100 ms of start-up (docs/OPERATIONS.md, "Workers").
    const { DuckDbStore } = await import('./duckdb-store.js');
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
