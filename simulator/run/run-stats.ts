import type { DeviceEvents } from '../device/simulated-device.js';
import type { LinkEvents } from '../transport/device-link.js';
import { LatencyHistogram } from './latency-histogram.js';

const bump = (counts: Map<string, number>, key: string, by = 1) => counts.set(key, (counts.get(key) ?? 0) + by);

/** Fleet-wide counters of a run, fed by every device and link. */
export class RunStats implements DeviceEvents, LinkEvents {
  readonly latency = new LatencyHistogram();
  /** Messages refused for good, by code (including notices for QoS 0 messages). */
  readonly rejections = new Map<string, number>();
  /** Attempts that will be retried, by code. */
  readonly retries = new Map<string, number>();
  readonly connectFailures = new Map<string, number>();
  attempts = 0;
  messagesAcknowledged = 0;
  readingsAcknowledged = 0;
  messagesUnconfirmed = 0;
  readingsUnconfirmed = 0;
  messagesRejected = 0;
  readingsRejected = 0;
  connects = 0;
  disconnects = 0;
  /** Connections cut on purpose. */
  drops = 0;

  attempted(): void {
    this.attempts++;
  }

  acknowledged(_device: string, latencyMs: number, readings: number): void {
    this.messagesAcknowledged++;
    this.readingsAcknowledged += readings;
    this.latency.record(latencyMs);
  }

  sentUnconfirmed(_device: string, readings: number): void {
    this.messagesUnconfirmed++;
    this.readingsUnconfirmed += readings;
  }

  rejected(_device: string, code: string, readings: number): void {
    this.messagesRejected++;
    this.readingsRejected += readings;
    bump(this.rejections, code);
  }

  retrying(_device: string, code: string): void {
    bump(this.retries, code);
  }

  connected(): void {
    this.connects++;
  }

  disconnected(): void {
    this.disconnects++;
  }

  dropped(_device: string): void {
    this.drops++;
  }

  connectFailed(_device: string, reason: string): void {
    bump(this.connectFailures, reason);
  }

  lateRejection(_device: string, code: string, retryable: boolean): void {
    if (retryable) bump(this.retries, code);
    else {
      this.messagesRejected++;
      bump(this.rejections, code);
    }
  }
}
