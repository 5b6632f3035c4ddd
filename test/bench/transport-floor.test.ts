import { beforeAll, describe, expect, it } from 'vitest';
import {
  connectionTokens,
  type MessagePool,
  makeBenchFleet,
  signMessagePool,
} from '../../bench/support/bench-fleet.js';
import type { LoadShape } from '../../bench/support/saturation.js';
import { saturate } from '../../bench/support/saturation.js';
import {
  bestReachable,
  FLOOR_KINDS,
  type FloorCell,
  floorTransport,
  startFloorServer,
  transportFloorMarkdown,
} from '../../bench/transport-floor.js';
import { saturationResult } from './saturation-result.js';

// The section's pieces, run far enough to show each floor server acknowledges the load generator's
// messages and its CPU is read. No timing is asserted: the machine is shared and the numbers mean nothing here.
const LOAD: LoadShape = { warmupS: 0.2, measureS: 0.6, httpConnections: 8, mqttWindowPerDevice: 2 };

let pool: MessagePool;
let tokens: string[];

beforeAll(async () => {
  const fleet = await makeBenchFleet({ devices: 5, alg: 'ES256', prefix: 'floor-test' });
  pool = await signMessagePool(fleet, { readingsPerMessage: 1, messagesPerDevice: 200, startTs: Date.now() - 60_000 });
  tokens = await connectionTokens(fleet);
});

describe('transport floor servers', () => {
  it.each(FLOOR_KINDS)('%s acknowledges signed messages it neither verifies nor stores', async (kind) => {
    const server = await startFloorServer({ runtime: 'tsx', kind });
    try {
      const transport = floorTransport(kind);
      expect(transport === 'mqtt').toBe(server.mqttUrl !== undefined);
      const result = await saturate({ server, transport, pool, tokens, load: LOAD, rejectedMetric: false });
      expect(result.acknowledged).toBeGreaterThan(0);
      expect(result.failed).toBe(0);
      expect(result.serverCpuSeconds).toBeGreaterThanOrEqual(0);
    } finally {
      await server.stop();
    }
  });

  it('derives the best reachable ratio per transport from the cheapest floor', () => {
    const cell = (kind: FloorCell['kind'], cpuUsPerMessage: number): FloorCell => {
      return {
        kind,
        transport: floorTransport(kind),
        messageBytes: 0,
        result: saturationResult(cpuUsPerMessage, undefined),
        ratioToRawVerify: cpuUsPerMessage / 100,
      };
    };
    const cells = [cell('node-http', 60), cell('fastify', 80), cell('aedes', 50), cell('mqtt-packet', 30)];
    expect(bestReachable(cells, 100)).toEqual([
      { transport: 'http', cheapestKind: 'node-http', minFloorUs: 60, bestReachableRatio: 1.6 },
      { transport: 'mqtt', cheapestKind: 'mqtt-packet', minFloorUs: 30, bestReachableRatio: 1.3 },
    ]);
    expect(transportFloorMarkdown(cells, 100, 1.5)).toContain('| MQTT | mqtt-packet parser | 30 | **1.3×** |');
  });
});
