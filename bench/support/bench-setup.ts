import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startVictoriaMetrics, type VictoriaMetricsServer } from '../../test/support/victoria-metrics-server.js';
import { type BenchFleet, writeRegistry } from './bench-fleet.js';
import type { BenchStore } from './bench-node.js';
import { cpuSecondsOf, findPidByArgument } from './proc-cpu.js';
import type { LoadShape } from './saturation.js';

/** A temporary folder with the registry of the fleets a section drives. */
export interface BenchWorkspace {
  readonly dir: string;
  readonly registryFile: string;
  remove(): Promise<void>;
}

export async function benchWorkspace(fleets: readonly BenchFleet[]): Promise<BenchWorkspace> {
  const dir = await mkdtemp(join(tmpdir(), 'telemetry-bench-'));
  const registryFile = join(dir, 'registry.jwks.json');
  await writeRegistry(registryFile, fleets);
  return { dir, registryFile, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Starts VictoriaMetrics (Debian package `victoria-metrics`) as the tests do, or answers undefined
 * with the reason when it cannot, so a section can skip its VictoriaMetrics measurements.
 */
export async function tryVictoriaMetrics(): Promise<{
  server?: VictoriaMetricsServer;
  store?: BenchStore & { kind: 'victoriametrics' };
  /** The server's process, where /proc shows it. */
  pid?: number;
  skipped?: string;
}> {
  try {
    const server = await startVictoriaMetrics();
    const pid = findPidByArgument(`-httpListenAddr=${new URL(server.url).host}`);
    return {
      server,
      ...(pid === undefined ? {} : { pid }),
      store: {
        kind: 'victoriametrics',
        url: server.url,
        ...(pid === undefined ? {} : { cpuSeconds: () => cpuSecondsOf(pid) }),
      },
    };
  } catch (error) {
    return { skipped: error instanceof Error ? error.message.split('\n')[0] : String(error) };
  }
}

/**
 * Messages per device a pool needs so a run at up to `expectedPerSecond` does not run out
 * (with a margin); a pool that does run out wraps around and says so in the result.
 */
export function messagesPerDevice(expectedPerSecond: number, load: LoadShape, devices: number): number {
  const seconds = load.warmupS + load.measureS + 1;
  return Math.max(4, Math.ceil((expectedPerSecond * seconds * 1.3) / devices));
}
