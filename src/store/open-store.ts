import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/config-schema.js';
import { DuckDbStore } from './duckdb-store.js';
import { InfluxStore } from './influx-store.js';
import type { TelemetryStore } from './telemetry-store.js';

/** Opens the store the configuration names. */
export async function openStore(config: Config): Promise<TelemetryStore> {
  if (config.store === 'embedded') {
    await mkdir(config.dataDir, { recursive: true });
    return DuckDbStore.open({ path: join(config.dataDir, 'telemetry.duckdb') });
  }
  const common = {
    url: config.influxUrl,
    timeoutMs: 10_000,
    queryMode: config.influxQuery,
    compression: config.influxCompression,
  } as const;
  if (config.influxApi === 'v1') {
    return new InfluxStore({
      ...common,
      api: 'v1',
      database: config.influxBucket,
      ...(config.influxToken === '' ? {} : { token: config.influxToken }),
    });
  }
  return new InfluxStore({
    ...common,
    api: 'v2',
    org: config.influxOrg,
    bucket: config.influxBucket,
    ...(config.influxToken === '' ? {} : { token: config.influxToken }),
  });
}
