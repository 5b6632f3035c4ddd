import { defineConfig } from 'vitest/config';

/**
 * Integration suites: those that start an outside server (InfluxDB, VictoriaMetrics, Mosquitto, HAProxy,
 * Chromium, Python) or child processes (`telemetry serve`, workers, drills, benchmarks), and those that
 * hold real sockets open for seconds (keep-alive and MQTT connection timing). `npm run test:unit` leaves
 * them out, runs in seconds and needs nothing but `npm ci`; `npm test` runs everything. A new suite that
 * starts a server belongs here, or `npm run test:unit` fails on a machine without the Debian packages.
 */
const INTEGRATION = [
  'test/bench/**/*.test.ts',
  'test/bridge/bridge-for-real.test.ts',
  'test/bridge/bridge-kill-redelivery.test.ts',
  'test/bridge/bridge-mqtt-upstream.test.ts',
  'test/bridge/forwarder.test.ts',
  'test/bridge/mqtt-intake-redelivery.test.ts',
  'test/bridge/node-mqtt-client.test.ts',
  'test/cli/cli-start-time.test.ts',
  'test/conformance/mqtt-*.test.ts',
  'test/drills/**/*.test.ts',
  'test/dashboard/dashboard.test.ts',
  'test/dashboard/dashboard-fleet.test.ts',
  'test/devices/c-example-device.test.ts',
  'test/devices/c-library.test.ts',
  'test/cli/serve-output.test.ts',
  'test/cli/serve-start-failures.test.ts',
  'test/docs/docker-compose.test.ts',
  'test/docs/grafana-api-dashboard.test.ts',
  'test/docs/haproxy-config.test.ts',
  'test/docs/mosquitto-config.test.ts',
  'test/docs/npm-start-signals.test.ts',
  'test/docs/prometheus-stack.test.ts',
  'test/docs/python-device.test.ts',
  'test/docs/readme-quickstart.test.ts',
  'test/docs/readme-walkthrough.test.ts',
  'test/ingest/graceful-shutdown.test.ts',
  'test/ingest/http-keepalive.test.ts',
  'test/ingest/http-memory-bound.test.ts',
  'test/ingest/key-refresh-metrics.test.ts',
  'test/ingest/mqtt-embedded-backpressure.test.ts',
  'test/ingest/mqtt-embedded-connect.test.ts',
  'test/ingest/mqtt-embedded-publish.test.ts',
  'test/ingest/mqtt-external-processes.test.ts',
  'test/ingest/mqtt-external-subscriber.test.ts',
  'test/ingest/store-outage.test.ts',
  'test/ingest/workers.test.ts',
  'test/ingest/workers-shutdown.test.ts',
  'test/query/stream-memory.test.ts',
  'test/simulator/fault-injection.test.ts',
  'test/simulator/network-faults.test.ts',
  'test/simulator/run-fleet.test.ts',
  'test/simulator/scale-smoke.test.ts',
  'test/simulator/simulate-command.test.ts',
  'test/simulator/simulate-run-process.test.ts',
  'test/store/duckdb-writer.test.ts',
  'test/store/influx-store-influxdb.test.ts',
  'test/store/open-store.test.ts',
  'test/store/influx-store-refusals.test.ts',
  'test/store/victoria-metrics-store.test.ts',
];

export default defineConfig({
  test: {
    environment: 'node',
    // Integration suites start real servers; give them room on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: INTEGRATION } },
      { extends: true, test: { name: 'integration', include: INTEGRATION } },
    ],
  },
});
