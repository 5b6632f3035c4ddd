import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IngestCell, perReadingCosts } from '../../bench/ingest-cost.js';
import { startNaiveServer } from '../../bench/naive-baseline.js';
import {
  connectionTokens,
  type MessagePool,
  makeBenchFleet,
  signMessagePool,
} from '../../bench/support/bench-fleet.js';
import { type MeasuredServer, metricTotal, startBenchNode } from '../../bench/support/bench-node.js';
import { parseResult, RESULT_PREFIX } from '../../bench/support/bench-result.js';
import { type BenchWorkspace, benchWorkspace } from '../../bench/support/bench-setup.js';
import { saturateMqttEndToEnd } from '../../bench/support/mqtt-end-to-end-load.js';
import { connectDevices, disconnectDevices } from '../../bench/support/mqtt-load.js';
import { httpLatency, mqttLatency } from '../../bench/support/open-loop.js';
import { cpuSecondsOfTree } from '../../bench/support/proc-cpu.js';
import { measureRawVerify, parseVerifyCosts } from '../../bench/support/raw-verify.js';
import { type LoadShape, saturate } from '../../bench/support/saturation.js';
import { startMosquitto } from '../support/mosquitto-server.js';
import { saturationResult } from './saturation-result.js';

// The quick suite's pieces, run far enough to show each produces numbers. No timing is asserted:
// the machine is shared and the numbers mean nothing here.
const LOAD: LoadShape = { warmupS: 0.2, measureS: 0.6, httpConnections: 8, mqttWindowPerDevice: 2 };

let workspace: BenchWorkspace;
let pool: MessagePool;
let tokens: string[];
let node: MeasuredServer | undefined;

beforeAll(async () => {
  const fleet = await makeBenchFleet({ devices: 5, alg: 'ES256', prefix: 'bench-test' });
  workspace = await benchWorkspace([fleet]);
  pool = await signMessagePool(fleet, { readingsPerMessage: 3, messagesPerDevice: 200, startTs: Date.now() - 60_000 });
  tokens = await connectionTokens(fleet);
  node = await startBenchNode({ runtime: 'tsx', store: { kind: 'duckdb' }, registryFile: workspace.registryFile });
});

afterAll(async () => {
  await node?.stop();
  await workspace?.remove();
});

describe('benchmark suite pieces', () => {
  it('reads the CPU time of a process from /proc and measures a raw signature check', async () => {
    expect(cpuSecondsOfTree(process.pid)).toBeGreaterThan(0);
    expect(await measureRawVerify('EdDSA', 50)).toBeGreaterThan(0);
    expect(parseVerifyCosts(`noise\n${RESULT_PREFIX}{"ES256":{"rawUs":120},"EdDSA":{"rawUs":140}}\n`)).toEqual({
      ES256: { rawUs: 120 },
      EdDSA: { rawUs: 140 },
    });
  });

  it('signs distinct readings per device, interleaved for HTTP', () => {
    expect(pool.byDevice).toHaveLength(5);
    expect(pool.interleaved).toHaveLength(1000);
    expect(new Set(pool.interleaved).size).toBe(1000);
  });

  it('drives a telemetry serve node over HTTP and MQTT and counts its CPU per acknowledged message', async () => {
    const server = node as MeasuredServer;
    const http = await saturate({ server, transport: 'http', pool, load: LOAD, rejectedMetric: true });
    expect(http.acknowledged).toBeGreaterThan(0);
    expect(http.cpuUsPerMessage).toBeGreaterThan(0);
    expect(http.rejected).toBe(0);
    const mqtt = await saturate({ server, transport: 'mqtt', pool, tokens, load: LOAD, rejectedMetric: true });
    expect(mqtt.acknowledged).toBeGreaterThan(0);
    expect(mqtt.serverCpuSeconds).toBeGreaterThanOrEqual(0);
    expect(mqtt.rejected).toBe(0);
  });

  it('spreads HTTP load over processes, each with its own messages, and adds up what they saw acknowledged', async () => {
    const server = node as MeasuredServer;
    const accepted = () => metricTotal(server.httpUrl, 'telemetry_messages_accepted_total');
    const before = await accepted();
    const spread = await saturate({
      server,
      transport: 'http',
      pool,
      load: LOAD,
      rejectedMetric: true,
      httpLoadProcesses: { cores: [undefined, undefined], dir: workspace.dir },
    });
    expect(spread.acknowledged).toBeGreaterThan(0);
    expect(spread.failed).toBe(0);
    expect(spread.rejected).toBe(0);
    // The processes' own CPU, not this process's; the node's over the same window as theirs.
    expect(spread.loadCpuSeconds).toBeGreaterThan(0);
    expect(spread.seconds).toBeGreaterThan(LOAD.measureS * 0.9);
    expect(spread.seconds).toBeLessThan(LOAD.measureS * 2);
    expect(spread.serverCpuSeconds).toBeGreaterThan(0);
    // Counted within the window, so no more than the node accepted in the whole run.
    expect(await accepted()).toBeGreaterThanOrEqual(before + spread.acknowledged);
  });

  it("drives a node through Mosquitto, counting each message when the node's end-to-end acknowledgement names it", async () => {
    const broker = await startMosquitto();
    const external = await startBenchNode({
      runtime: 'tsx',
      store: { kind: 'duckdb' },
      registryFile: workspace.registryFile,
      mqtt: false,
      env: { TELEMETRY_MQTT: 'external', TELEMETRY_MQTT_BROKER_URL: broker.url },
    });
    const devices = await connectDevices(broker.url, pool.devices, tokens);
    try {
      const window = await saturateMqttEndToEnd({
        server: external,
        devices,
        messages: pool.byDevice,
        windowPerDevice: 2,
        warmupS: LOAD.warmupS,
        measureS: LOAD.measureS,
      });
      expect(window.acknowledged).toBeGreaterThan(0);
      expect(window.failed).toBe(0);
      expect(await metricTotal(external.httpUrl, 'telemetry_messages_accepted_total')).toBeGreaterThanOrEqual(
        window.acknowledged,
      );
    } finally {
      await disconnectDevices(devices);
      await external.stop();
      await broker.stop();
    }
  });

  it('sends several messages per HTTP request to the batch endpoint, each counted once it is stored', async () => {
    const server = node as MeasuredServer;
    const before = await metricTotal(server.httpUrl, 'telemetry_messages_accepted_total');
    const batched = await saturate({
      server,
      transport: 'http',
      httpMessagesPerRequest: 5,
      pool,
      load: LOAD,
      rejectedMetric: true,
    });
    const accepted = (await metricTotal(server.httpUrl, 'telemetry_messages_accepted_total')) - before;
    expect(batched.acknowledged).toBeGreaterThan(0);
    expect(batched.acknowledged % 5).toBe(0);
    expect(batched.rejected).toBe(0);
    // The window counts part of the run; the node accepted every message of every answered request.
    expect(accepted).toBeGreaterThanOrEqual(batched.acknowledged);
    expect(accepted % 5).toBe(0);
  });

  it('measures acknowledgement latency with open-loop senders', async () => {
    const server = node as MeasuredServer;
    const shape = { rate: 40, warmupS: 0.1, measureS: 0.4 };
    const http = await httpLatency({ ...shape, httpUrl: server.httpUrl, messages: pool.interleaved });
    expect(http.acknowledged).toBeGreaterThan(0);
    expect(http.p99Ms).toBeGreaterThan(0);
    const devices = await connectDevices(server.mqttUrl ?? '', pool.devices, tokens);
    try {
      const mqtt = await mqttLatency({ ...shape, devices, messages: pool.byDevice });
      expect(mqtt.acknowledged).toBeGreaterThan(0);
      expect(mqtt.p50Ms).toBeGreaterThan(0);
    } finally {
      await disconnectDevices(devices);
    }
  });

  it('runs the naive baseline server on the same messages', async () => {
    const naive = await startNaiveServer({
      runtime: 'tsx',
      store: { kind: 'duckdb' },
      registryFile: workspace.registryFile,
    });
    try {
      const result = await saturate({ server: naive, transport: 'http', pool, load: LOAD, rejectedMetric: false });
      expect(result.acknowledged).toBeGreaterThan(0);
      expect(result.failed).toBe(0);
    } finally {
      await naive.stop();
    }
  });

  it('derives the per-additional-reading cost from the 1- and 100-reading cells', () => {
    const cell = (readings: number, cpuUsPerMessage: number): IngestCell => ({
      alg: 'ES256',
      readings,
      transport: 'http',
      store: 'duckdb',
      messageBytes: 0,
      ratioToRawVerify: 0,
      result: saturationResult(cpuUsPerMessage),
    });
    const [cost] = perReadingCosts([cell(1, 150), cell(100, 1140)], {
      ES256: { rawUs: 100 },
      EdDSA: { rawUs: 100 },
    });
    expect(cost?.usPerAdditionalReading).toBeCloseTo(10);
    expect(cost?.fractionOfRawVerify).toBeCloseTo(0.1);
  });

  it('hands results to the runner as the last BENCH_RESULT line', () => {
    const output = `progress\n${RESULT_PREFIX}{"section":"a","x":1}\n${RESULT_PREFIX}{"section":"b","x":2}\n`;
    expect(parseResult(output)).toEqual({ section: 'b', x: 2 });
    expect(parseResult('nothing here')).toBeUndefined();
  });
});
