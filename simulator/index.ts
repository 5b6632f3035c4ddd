/**
 * The device simulator: provisions fleets of simulated devices, models their
 * sensors, and runs them against ingest nodes over HTTP or MQTT with the
 * client-side state real devices keep, reporting what was acknowledged.
 */

export type { IndexRange } from './device/index-ranges.js';
export { IndexRanges, indicesOf } from './device/index-ranges.js';
export type { MessageLimits } from './device/message-budget.js';
export type { ReadingSchedule } from './device/reading-schedule.js';
export { readingTime } from './device/reading-schedule.js';
export type { BackoffPolicy } from './device/retry-delay.js';
export { DEFAULT_BACKOFF, retryDelay } from './device/retry-delay.js';
export type { DeviceEvents, SimulatedDeviceOptions } from './device/simulated-device.js';
export { SimulatedDevice } from './device/simulated-device.js';
export type { DerivedKey } from './fleet/derive-key.js';
export { deriveKey } from './fleet/derive-key.js';
export type { DeviceKeySourceKind, FleetDevice, FleetKeySource, FleetManifest } from './fleet/fleet-manifest.js';
export { FLEET_FILE, FleetError, loadFleetSigners, readFleet } from './fleet/fleet-manifest.js';
export type { FleetAlgorithm, ProvisionOptions, ProvisionResult } from './fleet/provision-fleet.js';
export { provisionFleet, simulatedDeviceId } from './fleet/provision-fleet.js';
export type { DeviceKind } from './kinds/index.js';
export {
  DEVICE_KINDS,
  findDeviceKind,
  gpsKind,
  KindSampler,
  kindMetrics,
  meterKind,
  thermoKind,
} from './kinds/index.js';
export { SeededRandom } from './random/seeded-random.js';
export type { AcknowledgedPoint } from './run/acknowledged-readings.js';
export { acknowledgedPoints } from './run/acknowledged-readings.js';
export type { RunHandle, RunSnapshot } from './run/run-fleet.js';
export { startRun } from './run/run-fleet.js';
export type { RunOptions } from './run/run-options.js';
export { RUN_DEFAULTS } from './run/run-options.js';
export type { DeviceReport, RunReport } from './run/run-report.js';
export { progressLine, runSummary } from './run/run-summary.js';
export type { AnySensorModel, Sample, SampleContext, SensorModel } from './sensors/sensor-model.js';
export type { DeviceLink, OutgoingMessage, SendOutcome } from './transport/device-link.js';
