/**
 * One node through an external broker against the same node with its embedded broker (issue: external mode as
 * fast as the embedded broker). The same devices, messages (ES256, one reading) and store; the embedded cell
 * counts a message when its PUBACK comes (the node sends it once stored), the external cell when the node's
 * end-to-end acknowledgement on devices/{id}/acks does (docs/PROTOCOL.md §10.3), through Mosquitto from Debian,
 * to which the node is subscribed with one connection and a Receive Maximum of 256. Target: the external
 * cell's messages/s and node CPU per message within 80 % of the embedded cell's, in the same run.
 *
 *   npx tsx bench/external-broker.ts [--quick]
 *
 * Prints a `BENCH_RESULT {json}` line for bench/run-suite.ts.
 */
import { fileURLToPath } from 'node:url';
import { startMosquitto } from '../test/support/mosquitto-server.js';
import { connectionTokens, makeBenchFleet, signMessagePool } from './support/bench-fleet.js';
import { type BenchStore, type MeasuredServer, metricTotal, startBenchNode } from './support/bench-node.js';
import { printResult, progress, sectionArgs, sig, sigNumbers } from './support/bench-result.js';
import { benchWorkspace, messagesPerDevice, tryVictoriaMetrics } from './support/bench-setup.js';
import { windowRates } from './support/load-window.js';
import { saturateMqttEndToEnd } from './support/mqtt-end-to-end-load.js';
import { connectDevices, disconnectDevices } from './support/mqtt-load.js';
import { benchRuntime } from './support/node-runtime.js';
import { FULL_LOAD, QUICK_LOAD, saturate } from './support/saturation.js';

/** The share of the embedded broker's figures the external broker must reach. */
const TARGET = 0.8;

interface Cell {
  readonly broker: 'embedded' | 'mosquitto';
  readonly store: string;
  readonly messagesPerSecond: number;
  readonly cpuUsPerMessage: number;
  readonly serverCores: number;
  readonly loadCores: number;
  readonly failed: number;
  readonly rejected: number;
}

async function main(): Promise<void> {
  const args = sectionArgs();
  const runtime = benchRuntime();
  const load = args.quick ? QUICK_LOAD : FULL_LOAD;
  const devices = args.quick ? 20 : 200;
  const fleet = await makeBenchFleet({ devices, alg: 'ES256' });
  const workspace = await benchWorkspace([fleet]);
  const pool = await signMessagePool(fleet, {
    readingsPerMessage: 1,
    messagesPerDevice: messagesPerDevice(6000, load, devices),
    startTs: Date.now() - 3_600_000,
  });
  const tokens = await connectionTokens(fleet);
  const vm = args.quick ? {} : await tryVictoriaMetrics();
  const stores: Array<[string, BenchStore]> = [['duckdb', { kind: 'duckdb' }]];
  if (vm.store !== undefined) stores.unshift(['victoriametrics', vm.store]);
  const broker = await startMosquitto();
  const cells: Cell[] = [];
  const rejectedOf = (server: MeasuredServer) => metricTotal(server.httpUrl, 'telemetry_messages_rejected_total');
  try {
    for (const [storeName, store] of stores) {
      const embedded = await startBenchNode({ runtime, store, registryFile: workspace.registryFile, mqtt: true });
      try {
        const result = await saturate({
          server: embedded,
          transport: 'mqtt',
          pool,
          tokens,
          load,
          rejectedMetric: true,
        });
        cells.push({ broker: 'embedded', store: storeName, ...pick(result), rejected: result.rejected ?? 0 });
      } finally {
        await embedded.stop();
      }
      const external = await startBenchNode({
        runtime,
        store,
        registryFile: workspace.registryFile,
        mqtt: false,
        env: {
          TELEMETRY_MQTT: 'external',
          TELEMETRY_MQTT_BROKER_URL: broker.url,
          TELEMETRY_MQTT_SHARE_GROUP: `bench-${process.pid}-${storeName}`,
        },
      });
      const connected = await connectDevices(broker.url, pool.devices, tokens);
      try {
        const before = await rejectedOf(external);
        const window = await saturateMqttEndToEnd({
          server: external,
          devices: connected,
          messages: pool.byDevice,
          windowPerDevice: load.mqttWindowPerDevice,
          warmupS: load.warmupS,
          measureS: load.measureS,
        });
        const rates = windowRates(window);
        cells.push({
          broker: 'mosquitto',
          store: storeName,
          ...pick({ ...window, ...rates }),
          rejected: (await rejectedOf(external)) - before,
        });
      } finally {
        await disconnectDevices(connected);
        await external.stop();
      }
      for (const cell of cells.slice(-2)) {
        progress(
          `  ${cell.broker.padEnd(9)} ${cell.store.padEnd(15)} ${sig(cell.messagesPerSecond)} msg/s, ` +
            `${sig(cell.cpuUsPerMessage)} µs node CPU/msg, node ${sig(cell.serverCores)} cores, load generator ` +
            `${sig(cell.loadCores)} cores${cell.failed ? `, ${cell.failed} FAILED` : ''}` +
            `${cell.rejected ? `, ${cell.rejected} REJECTED` : ''}`,
        );
      }
    }
  } finally {
    await broker.stop();
    await vm.server?.stop();
    await workspace.remove();
  }
  const comparisons = stores.map(([storeName]) => {
    const embedded = cells.find((c) => c.store === storeName && c.broker === 'embedded') as Cell;
    const external = cells.find((c) => c.store === storeName && c.broker === 'mosquitto') as Cell;
    const throughput = external.messagesPerSecond / embedded.messagesPerSecond;
    const cpuEfficiency = embedded.cpuUsPerMessage / external.cpuUsPerMessage;
    return { store: storeName, throughput: sig(throughput), cpuEfficiency: sig(cpuEfficiency) };
  });
  const targets = comparisons.map((c) => {
    const met = c.throughput >= TARGET && c.cpuEfficiency >= TARGET;
    return (
      `${met ? 'met' : 'missed'}: through Mosquitto with ${c.store}, ${Math.round(c.throughput * 100)} % of the ` +
      `embedded broker's msg/s and ${Math.round(c.cpuEfficiency * 100)} % of its messages per CPU second ` +
      `(target ≥ ${TARGET * 100} % each)`
    );
  });
  for (const line of targets) progress(line);
  printResult({
    section: 'external-broker',
    runtime,
    devices,
    load,
    cells: cells.map((c) => sigNumbers(c)),
    comparisons,
    targets,
    markdown: markdownOf(cells, targets),
  });
}

function pick(result: {
  messagesPerSecond: number;
  cpuUsPerMessage: number;
  serverCores: number;
  loadCores: number;
  failed: number;
}): Omit<Cell, 'broker' | 'store' | 'rejected'> {
  const { messagesPerSecond, cpuUsPerMessage, serverCores, loadCores, failed } = result;
  return { messagesPerSecond, cpuUsPerMessage, serverCores, loadCores, failed };
}

function markdownOf(cells: readonly Cell[], targets: readonly string[]): string {
  const rows = cells.map(
    (c) =>
      `| ${c.broker} | ${c.store} | ${sig(c.messagesPerSecond)} | ${sig(c.cpuUsPerMessage)} | ${sig(c.serverCores)} | ` +
      `${sig(c.loadCores)} | ${c.failed} |`,
  );
  return [
    "One node, ES256, one reading per message; the external cell counts the node's end-to-end acknowledgements.",
    '',
    '| broker | store | msg/s | node µs CPU/msg | node cores | load generator cores | failed |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    ...targets.map((t) => `- ${t}`),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
