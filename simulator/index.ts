/**
 * The device simulator: provisions fleets of simulated devices, models their
 * sensors, and runs them against ingest nodes over HTTP or MQTT with the
 * client-side state real devices keep, reporting what was acknowledged.
 */

export { DEFAULT_BACKOFF, retryDelay } from '../src/index.js';
export type { IndexRange } from './device/index-ranges.js';
export { IndexRanges, indicesOf } from './device/index-ranges.js';
export type { ReadingSchedule } from './device/reading-schedule.js';
export { readingTime } from './device/reading-schedule.js';
export type { DeviceEvents, DeviceFaults, SimulatedDeviceOptions } from './device/simulated-device.js';
export { SimulatedDevice } from './device/simulated-device.js';
export type { FaultChances, FaultTally } from './faults/fault-injector.js';
export { FaultInjector, faultProblems } from './faults/fault-injector.js';
export type { ExpectedAnswer, FaultKind } from './faults/fault-kind.js';
export { FAULT_KINDS, FAULT_PROBE_METRIC, FAULT_PROBE_VALUE, isFaultKind } from './faults/fault-kind.js';
export type { FaultContext } from './faults/fault-message.js';
export { buildFaultMessage } from './faults/fault-message.js';
export type { FaultPlan, FaultRate } from './faults/fault-plan.js';
export { FaultPlanError, parseFaultPlan } from './faults/fault-plan.js';
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
export type { ClockTolerance } from './run/clock-skew-plan.js';
export { DEFAULT_CLOCK_TOLERANCE } from './run/clock-skew-plan.js';
export type { RunHandle, RunSnapshot } from './run/run-fleet.js';
export { startRun } from './run/run-fleet.js';
export type { RunOptions } from './run/run-options.js';
export { RUN_DEFAULTS } from './run/run-options.js';
export type { DeviceReport, DropsReport, RunReport, SkewReport } from './run/run-report.js';
export { progressLine, runSummary } from './run/run-summary.js';
export type { VerificationReport } from './run/verification-report.js';
export type { AnySensorModel, Sample, SampleContext, SensorModel } from './sensors/sensor-model.js';
export type { DeviceLink, OutgoingMessage, SendOutcome } from './transport/device-link.js';
export type { BackoffPolicy } from './transport/retry-delay.js';
export type { ReadingsSource, StoredValue } from './verify/readings-source.js';
export { QueryApiError, QueryApiSource } from './verify/readings-source.js';
export { verificationSummary } from './verify/verification-summary.js';
export type { VerifyOptions } from './verify/verify-run.js';
export { verifyRun } from './verify/verify-run.js';
