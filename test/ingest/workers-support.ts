import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { makeDevice, type TestDevice } from '../support/devices.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';
import { startVictoriaMetrics, type VictoriaMetricsServer } from '../support/victoria-metrics-server.js';

/** A `telemetry serve` with TELEMETRY_WORKERS=2 on VictoriaMetrics, and the one device its registry trusts. */
export interface WorkerNode {
  readonly node: ServeProcess;
  readonly vm: VictoriaMetricsServer;
  readonly device: TestDevice;
}

let dir: string | undefined;
let started: { node: ServeProcess; vm: VictoriaMetricsServer } | undefined;

/** Stops (SIGKILL) whatever {@link startWorkerNode} left running after each test of the file. */
export function useWorkerNodes(): void {
  afterEach(async () => {
    await started?.node.stop('SIGKILL');
    await started?.vm.stop();
    started = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });
}

/**
 * Starts VictoriaMetrics and a two-worker node in a temporary folder with `device` in its registry; `store`
 * gives the store settings, with `{url}` standing for VictoriaMetrics' URL.
 */
export async function startWorkerNode(
  deviceId: string,
  store: (url: string) => NodeJS.ProcessEnv,
  env: NodeJS.ProcessEnv = {},
): Promise<WorkerNode> {
  dir = await mkdtemp(join(tmpdir(), 'workers-'));
  const vm = await startVictoriaMetrics();
  const device = await makeDevice(deviceId, 'EdDSA');
  await writeFile(join(dir, 'registry.json'), JSON.stringify({ keys: [device.publicJwk] }));
  try {
    const node = await startServe({
      cwd: dir,
      env: { TELEMETRY_WORKERS: '2', TELEMETRY_KEY_REGISTRY: join(dir, 'registry.json'), ...store(vm.url), ...env },
    });
    started = { node, vm };
    return { node, vm, device };
  } catch (error) {
    await vm.stop();
    throw error;
  }
}
