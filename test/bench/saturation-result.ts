import type { SaturationResult } from '../../bench/support/saturation.js';

/** A saturation result of 1,000 messages in one second at `cpuUsPerMessage`, for tests of what is derived from it. */
export function saturationResult(cpuUsPerMessage: number, rejected: number | undefined = 0): SaturationResult {
  return {
    acknowledged: 1000,
    failed: 0,
    seconds: 1,
    serverCpuSeconds: cpuUsPerMessage / 1000,
    storeCpuSeconds: 0,
    loadCpuSeconds: 0,
    poolWraps: 0,
    messagesPerSecond: 1000,
    cpuUsPerMessage,
    cpuUsPerMessageWithStore: cpuUsPerMessage,
    serverCores: 0,
    loadCores: 0,
    rejected,
  };
}
