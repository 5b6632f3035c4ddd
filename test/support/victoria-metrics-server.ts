import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VICTORIA_METRICS_DIFFERENCES } from '../../src/store/victoria-metrics-store.js';
import { freePort, requireBinary, runServerProcess, type TestServer } from './server-process.js';

/** A running single-node VictoriaMetrics. */
export interface VictoriaMetricsServer extends TestServer {
  /** Makes every accepted sample searchable now (`/internal/force_flush`), instead of within about a second. */
  flush(): Promise<void>;
}

/**
 * The server flags the InfluxStore wants from VictoriaMetrics, in tests and in production alike:
 * - `-dedup.minScrapeInterval=1ms` (required): keep one sample per series and millisecond, so a reading written
 *   twice is stored once; without it VictoriaMetrics keeps both copies (a test below shows it). Which copy it
 *   keeps when the values differ is its choice, not the last one written.
 * - `-search.latencyOffset=0s` (recommended): the 30 s default hides the newest samples from range queries of
 *   other clients such as Grafana; the store's own queries (export, and instant queries at an explicit time)
 *   were not affected by it in 1.79.5.
 *
 * Its `-retentionPeriod` (default one month) must also exceed the oldest reading a node accepts: older samples
 * are dropped without an error.
 */
export const VICTORIA_METRICS_STORE_FLAGS: readonly string[] = [
  ...VICTORIA_METRICS_DIFFERENCES.requiredFlags,
  ...VICTORIA_METRICS_DIFFERENCES.recommendedFlags,
];

/**
 * Starts `victoria-metrics` (Debian package `victoria-metrics`) on a free loopback port with a temporary data
 * folder and `flags` ({@link VICTORIA_METRICS_STORE_FLAGS} unless told otherwise), and waits until `/health`
 * answers.
 */
export async function startVictoriaMetrics(
  flags: readonly string[] = VICTORIA_METRICS_STORE_FLAGS,
): Promise<VictoriaMetricsServer> {
  const binary = await requireBinary('victoria-metrics', 'victoria-metrics');
  const dataDir = await mkdtemp(join(tmpdir(), 'victoria-metrics-test-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await runServerProcess({
    binary,
    args: [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${dataDir}`,
      '-retentionPeriod=100y',
      '-loggerLevel=ERROR',
      ...flags,
    ],
    url,
    dataDir,
    ready: async () => (await fetch(`${url}/health`)).ok,
  });
  return {
    ...server,
    async flush() {
      const response = await fetch(`${url}/internal/force_flush`);
      if (!response.ok) throw new Error(`force_flush failed: HTTP ${response.status}`);
    },
  };
}
