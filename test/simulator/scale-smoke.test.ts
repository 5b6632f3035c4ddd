import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionFleet, QueryApiSource, readFleet, startRun, verifyRun } from '../../simulator/index.js';
import { type FleetNode, startFleetNode, testRunOptions } from './fleet-node.js';

const DEVICES = 500;
let dir: string;
let fleetNode: FleetNode;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sim-scale-'));
  await provisionFleet({
    dir,
    devices: DEVICES,
    alg: 'EdDSA',
    kinds: ['thermo'],
    keySource: 'registry',
    seed: 'scale-smoke',
    credentialTtlSeconds: 86_400,
    now: Date.now(),
  });
  fleetNode = await startFleetNode(dir, await readFleet(dir));
}, 60_000);

afterAll(async () => {
  await fleetNode?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a fleet of many MQTT devices (scale smoke test; the 10 000-device run is in the README)', () => {
  it(`connects ${DEVICES} MQTT devices over a ramp and stores everything they acknowledge`, async () => {
    const options = await testRunOptions(dir, {
      transport: 'mqtt',
      url: fleetNode.mqttUrl,
      rate: 1,
      readingsPerMessage: 1,
      durationMs: 4_000,
      rampMs: 2_000,
    });
    const report = await startRun(options).done;
    expect(report.problems).toEqual([]);
    expect(report.totals.devicesConnected).toBe(DEVICES);
    expect(report.totals.readingsAcknowledged).toBe(report.totals.readingsSampled);
    const verification = await verifyRun(report, {
      source: new QueryApiSource(fleetNode.httpUrl, fleetNode.operatorToken),
      sourceKind: 'query-api',
    });
    expect(verification.problems).toEqual([]);
    expect(verification.acknowledged.storedOnce).toBeGreaterThanOrEqual(DEVICES * 2 * 3);
  }, 60_000);
});
