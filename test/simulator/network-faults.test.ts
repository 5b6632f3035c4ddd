import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { QueryApiSource, type RunReport, startRun, verifyRun } from '../../simulator/index.js';
import { auditStore, type FleetNode, provisionAndStart, testRunOptions } from './fleet-node.js';

let dir: string | undefined;
let fleetNode: FleetNode | undefined;

async function setUp(devices: number) {
  const started = await provisionAndStart({ name: 'network', keySource: 'both', devices });
  dir = started.dir;
  fleetNode = started.node;
  return started;
}

/** Both audits: the test's own, straight from the store, and `verifyRun` through the query API. */
async function expectStoredOnce(node: FleetNode, report: RunReport): Promise<void> {
  const audit = await auditStore(node.store, report);
  expect(audit.problems).toEqual([]);
  const verification = await verifyRun(report, {
    source: new QueryApiSource(node.httpUrl, node.operatorToken),
    sourceKind: 'query-api',
  });
  expect(verification.problems).toEqual([]);
  expect(verification.ok).toBe(true);
  expect(verification.acknowledged.expected).toBe(audit.checked);
  expect(verification.acknowledged.storedOnce).toBe(verification.acknowledged.expected);
}

afterEach(async () => {
  await fleetNode?.close();
  fleetNode = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('connections cut on purpose', () => {
  it.each([
    ['mqtt', undefined, 'SIM_CONNECTION_LOST'],
    ['http', undefined, 'SIM_CONNECTION_CUT'],
    ['http', 8, 'SIM_CONNECTION_CUT'],
  ] as const)(
    'over %s (gateway batch %s) are counted, and every acknowledged reading is stored once after the resends',
    async (transport, gatewayBatch, retryCode) => {
      const { dir, node } = await setUp(4);
      const options = await testRunOptions(dir, {
        transport,
        url: transport === 'http' ? node.httpUrl : node.mqttUrl,
        ...(gatewayBatch === undefined ? {} : { gatewayBatch }),
        durationMs: 3_000,
        dropShare: 0.5,
        dropEveryMs: 400,
      });
      const report = await startRun(options).done;
      expect(report.problems).toEqual([]);
      expect(report.drops?.devices).toBe(2);
      expect(report.drops?.cuts).toBeGreaterThanOrEqual(2 * 4);
      expect(report.retries[retryCode]).toBeGreaterThanOrEqual(1);
      if (transport === 'mqtt') expect(report.totals.disconnects).toBe(report.drops?.cuts);
      expect(report.totals.readingsAcknowledged).toBe(report.totals.readingsSampled);
      await expectStoredOnce(node, report);
    },
  );

  it('leave the report without a drops section when none were asked for', async () => {
    const { dir, node } = await setUp(1);
    const report = await startRun(await testRunOptions(dir, { url: node.httpUrl, durationMs: 500 })).done;
    expect(report.drops).toBeUndefined();
    expect(report.skew).toBeUndefined();
  });
});

describe('clocks skewed on purpose', () => {
  it.each(['http', 'mqtt'] as const)(
    'within the node tolerance over %s: readings are accepted and stored at the skewed time',
    async (transport) => {
      const { dir, node } = await setUp(4);
      const options = await testRunOptions(dir, {
        transport,
        url: transport === 'http' ? node.httpUrl : node.mqttUrl,
        skewShare: 1,
        skewMs: 30_000,
      });
      const report = await startRun(options).done;
      expect(report.problems).toEqual([]);
      expect(report.skew).toMatchObject({ devices: 4, beyondTolerance: 0, rejectedAsExpected: 0 });
      const offsets = report.devices.map((d) => d.clockOffsetMs ?? 0);
      expect(offsets.every((o) => o !== 0 && Math.abs(o) <= 30_000)).toBe(true);
      expect(report.totals.readingsAcknowledged).toBe(report.totals.readingsSampled);
      // The first reading of each device is stored at t0 + its offset, not at t0.
      for (const device of report.devices) {
        const page = await node.store.queryReadings({
          devices: [device.id],
          range: { start: 0, end: Date.now() + 120_000 },
          limit: 1,
        });
        expect(page.items[0]?.ts).toBe(device.t0 + (device.clockOffsetMs ?? 0));
      }
      await expectStoredOnce(node, report);
    },
  );

  it.each(['http', 'mqtt'] as const)(
    'beyond the node tolerance over %s: refusals of clocks too far ahead are expected and counted, not problems',
    async (transport) => {
      const { dir, node } = await setUp(6);
      const options = await testRunOptions(dir, {
        transport,
        url: transport === 'http' ? node.httpUrl : node.mqttUrl,
        skewShare: 1,
        skewMs: 600_000,
      });
      const report = await startRun(options).done;
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      const ahead = report.devices.filter((d) => (d.clockOffsetMs ?? 0) > 60_000);
      const accepted = report.devices.filter((d) => (d.clockOffsetMs ?? 0) <= 60_000);
      // The seed gives both kinds of device, so both outcomes are tested.
      expect(ahead.length).toBeGreaterThan(0);
      expect(accepted.length).toBeGreaterThan(0);
      expect(report.skew?.beyondTolerance).toBe(ahead.length);
      expect(report.skew?.rejectedAsExpected).toBe(report.errors.ERR_TIMESTAMP_OUT_OF_RANGE);
      expect(report.skew?.rejectedAsExpected).toBeGreaterThan(0);
      for (const device of ahead) {
        expect(device.acknowledged).toEqual([]);
        expect(device.rejected.ERR_TIMESTAMP_OUT_OF_RANGE).toBeGreaterThan(0);
      }
      for (const device of accepted) expect(device.acknowledged).toEqual([[0, device.sampled - 1]]);
      await expectStoredOnce(node, report);
    },
  );
});
