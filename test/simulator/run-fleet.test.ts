import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type FleetKeySource, startRun } from '../../simulator/index.js';
import { TelemetryError } from '../../src/index.js';
import { auditStore, type FleetNode, provisionAndStart, testRunOptions } from './fleet-node.js';

let dir: string | undefined;
let fleetNode: FleetNode | undefined;

async function setUp(keySource: FleetKeySource, devices = 4, env: Record<string, string> = {}) {
  const started = await provisionAndStart({ name: 'run', keySource, devices, env });
  dir = started.dir;
  fleetNode = started.node;
  return started;
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

afterEach(async () => {
  await fleetNode?.close();
  fleetNode = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('a simulated fleet run against a real node', () => {
  it.each([
    ['http', 'registry', undefined],
    ['http', 'credentials', undefined],
    ['http', 'both', 16],
    ['mqtt', 'registry', undefined],
    ['mqtt', 'credentials', undefined],
  ] as const)(
    'over %s with keys from %s (gateway batch %s) stores every acknowledged reading once with its value',
    async (transport, keySource, gatewayBatch) => {
      const { dir, node } = await setUp(keySource);
      const options = await testRunOptions(dir, {
        transport,
        url: transport === 'http' ? node.httpUrl : node.mqttUrl,
        ...(gatewayBatch === undefined ? {} : { gatewayBatch }),
      });
      const report = await startRun(options).done;
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.totals.devicesConnected).toBe(4);
      expect(report.totals.readingsAcknowledged).toBe(report.totals.readingsSampled);
      expect(report.totals.readingsAcknowledged).toBeGreaterThan(4 * 20);
      const audit = await auditStore(node.store, report);
      expect(audit.problems).toEqual([]);
      expect(audit.checked).toBeGreaterThan(4 * 20 * 2);
    },
  );

  it('renews the MQTT connection token before it expires, losing nothing', async () => {
    const { dir, node } = await setUp('registry', 2);
    const options = await testRunOptions(dir, {
      transport: 'mqtt',
      url: node.mqttUrl,
      tokenTtlSeconds: 2,
      durationMs: 4_000,
    });
    const report = await startRun(options).done;
    expect(report.problems).toEqual([]);
    expect(report.totals.connects).toBeGreaterThanOrEqual(2 * 2);
    expect((await auditStore(node.store, report)).problems).toEqual([]);
  });

  it.each(['http', 'mqtt'] as const)(
    'buffers readings while devices are offline over %s and flushes the backlog in batched messages',
    async (transport) => {
      const { dir, node } = await setUp('both', 4);
      const options = await testRunOptions(dir, {
        transport,
        url: transport === 'http' ? node.httpUrl : node.mqttUrl,
        rate: 10,
        readingsPerMessage: 2,
        durationMs: 3_000,
        offlineShare: 0.5,
        offlineForMs: 1_500,
        limits: { maxReadingsPerMessage: 7, maxMessageBytes: 65_536 },
      });
      const run = startRun(options);
      const report = await run.done;
      expect(report.problems).toEqual([]);
      const offline = report.devices.filter((d) => d.offline.length > 0);
      expect(offline).toHaveLength(2);
      expect(report.totals.readingsAcknowledged).toBe(report.totals.readingsSampled);
      // A backlog of ~30 readings goes out in messages of up to 7, not 2: fewer messages than the steady rate needs.
      expect(report.totals.messagesAcknowledged).toBeLessThan(report.totals.readingsSampled / 2);
      expect((await auditStore(node.store, report)).problems).toEqual([]);
    },
  );

  it.each(['http', 'mqtt'] as const)(
    'retries over %s while the store fails for a moment: nothing acknowledged is missing or stored twice',
    async (transport) => {
      const { dir, node } = await setUp('registry', 3);
      const options = await testRunOptions(dir, {
        transport,
        url: transport === 'http' ? node.httpUrl : node.mqttUrl,
        durationMs: 3_000,
      });
      const run = startRun(options);
      await until(() => run.snapshot().stats.messagesAcknowledged >= 6);
      node.store.fail(new TelemetryError('ERR_STORE_UNAVAILABLE', 'down for a moment', { retryAfter: 1 }));
      await until(() => (run.snapshot().stats.retries.get('ERR_STORE_UNAVAILABLE') ?? 0) >= 3);
      node.store.heal();
      const report = await run.done;
      expect(report.problems).toEqual([]);
      expect(report.retries.ERR_STORE_UNAVAILABLE).toBeGreaterThanOrEqual(3);
      expect(report.totals.readingsAcknowledged).toBe(report.totals.readingsSampled);
      expect((await auditStore(node.store, report)).problems).toEqual([]);
    },
  );
});
