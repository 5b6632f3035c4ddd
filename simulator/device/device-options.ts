import type { BackoffPolicy, DeviceSigner, MessageLimits } from '../../src/index.js';
import type { FaultInjector } from '../faults/fault-injector.js';
import type { FaultContext } from '../faults/fault-message.js';
import type { KindSampler } from '../kinds/device-kind.js';
import type { SeededRandom } from '../random/seeded-random.js';
import type { DeviceLink } from '../transport/device-link.js';
import type { ReadingSchedule } from './reading-schedule.js';

/** What a device tells the run about its messages. */
export interface DeviceEvents {
  attempted(device: string): void;
  acknowledged(device: string, latencyMs: number, readings: number): void;
  sentUnconfirmed(device: string, readings: number): void;
  rejected(device: string, code: string, readings: number): void;
  retrying(device: string, code: string): void;
}

export interface SimulatedDeviceOptions {
  readonly signer: DeviceSigner;
  readonly link: DeviceLink;
  readonly sampler: KindSampler;
  readonly schedule: ReadingSchedule;
  /** Messages a second in the steady state; readings are sampled at `schedule.perSecond`. */
  readonly messagesPerSecond: number;
  readonly limits: MessageLimits;
  /** Messages in flight at once. */
  readonly window: number;
  readonly backoff: BackoffPolicy;
  /** For backoff jitter only (the sampler has its own stream). */
  readonly rng: SeededRandom;
  readonly now: () => number;
  readonly events: DeviceEvents;
  /** Stop sampling at this time, or after this many readings, whichever comes first. */
  readonly stopAt: { readonly time?: number; readonly readings?: number };
  /** Faults to inject on purpose beside the real messages. */
  readonly faults?: DeviceFaults;
}

/** A device's part in fault injection. */
export interface DeviceFaults {
  readonly injector: FaultInjector;
  /** Decides when this device injects (its own stream, so the sensor values do not change). */
  readonly rng: SeededRandom;
  readonly context: Omit<FaultContext, 'signer' | 'seq' | 'now'>;
}
