import type { Logger } from 'pino';
import { DEFAULT_LIMITS } from '../src/index.js';
import type { BridgeMetrics } from './bridge-metrics.js';
import type { DeviceKeysFolder } from './keys/device-keys-folder.js';
import type { MappedInput, Skip } from './mapping/device-reading.js';
import type { DeliveryMark } from './state/delivery-window.js';
import type { NewReading, ReadingJournal } from './state/reading-journal.js';

/** What the intake needs: where readings go, the keys, the counters and a clock. */
/** How far ahead of the clock a journaled time may be and still be taken as an arrival time a burst pushed ahead. */
const MAX_ARRIVAL_LEAD_MS = 60_000;

export interface ReadingIntakeDeps {
  readonly journal: ReadingJournal;
  readonly keys: DeviceKeysFolder;
  readonly metrics: BridgeMetrics;
  readonly logger: Logger;
  readonly now: () => number;
  /** Called after readings were added, so the forwarder wakes up. */
  readonly added: () => void;
}

/**
 * Where mapped input enters the backlog: every reading gets a time (the
 * device's, or its arrival, kept strictly increasing per device so two
 * readings never share one), a key for its device, and a line in the journal,
 * all before its source is acknowledged. The readings of one input are written
 * in one go, so an input is in the journal whole or not at all. Whatever
 * cannot be forwarded is skipped, counted and logged by reason; one bad device
 * never stops another.
 */
export class ReadingIntake {
  readonly #d: ReadingIntakeDeps;
  readonly #lastArrival = new Map<string, number>();

  constructor(deps: ReadingIntakeDeps) {
    this.#d = deps;
  }

  /**
   * Whether an MQTT message is one the journal already holds, so that it is
   * to be acknowledged and not taken again: only a delivery the broker marked
   * as a redelivery (DUP) [MQTT-3.3.1-1] whose packet id, topic and payload
   * match a message written down. A first delivery (DUP clear) is always taken,
   * even when it equals a message written before: devices do repeat a payload,
   * and the broker reuses packet ids.
   */
  isRedelivery(delivery: DeliveryMark, dup: boolean): boolean {
    if (!dup) {
      this.#d.journal.forgetDelivery(delivery);
      return false;
    }
    if (!this.#d.journal.holdsDelivery(delivery)) return false;
    this.#d.metrics.redeliveriesSkipped.inc();
    return true;
  }

  /**
   * Takes what one input mapped to; resolves once its readings are in the
   * journal, with the mark of the MQTT message it came from, if any.
   */
  async take(
    input: MappedInput,
    source: string,
    delivery?: DeliveryMark,
  ): Promise<{ accepted: number; skipped: number }> {
    const skipped = [...input.skipped];
    const readings: NewReading[] = [];
    for (const reading of input.readings) {
      const count = Object.keys(reading.values).length;
      if (count === 0) {
        skipped.push({ reason: 'no_values', device: reading.device });
        continue;
      }
      if (count > DEFAULT_LIMITS.maxValuesPerReading) {
        skipped.push({ reason: 'too_many_values', device: reading.device });
        continue;
      }
      let signer: Awaited<ReturnType<DeviceKeysFolder['signerFor']>>;
      try {
        signer = await this.#d.keys.signerFor(reading.device);
      } catch (error) {
        // An unreadable key file (or a full disk while writing a new one) is this device's problem alone.
        this.#d.logger.error({ err: error, device: reading.device }, 'the device key cannot be read or created');
        skipped.push({ reason: 'key_error', device: reading.device });
        continue;
      }
      if (signer === undefined) {
        skipped.push({ reason: 'no_key', device: reading.device });
        continue;
      }
      readings.push({
        device: reading.device,
        ts: reading.ts ?? this.#arrival(reading.device),
        values: reading.values,
      });
    }
    const accepted = readings.length;
    if (accepted > 0 || delivery !== undefined) {
      const { dropped } = this.#d.journal.append(readings, delivery);
      this.#d.metrics.received.inc(accepted);
      if (dropped.length > 0) {
        this.#d.metrics.dropped.inc(dropped.length);
        this.#d.logger.warn({ dropped: dropped.length }, 'backlog full: dropped the oldest readings');
      }
    }
    for (const skip of skipped) this.#skip(skip, source);
    this.#d.metrics.waiting.set(this.#d.journal.size);
    this.#d.metrics.waitingBytes.set(this.#d.journal.bytes);
    if (accepted > 0) this.#d.added();
    return { accepted, skipped: skipped.length };
  }

  /** Counts and logs a skip: the reason, the device and the field, never the payload. */
  skip(skip: Skip, source: string): void {
    this.#skip(skip, source);
  }

  #skip(skip: Skip, source: string): void {
    this.#d.metrics.skip(skip.reason);
    this.#d.logger.warn({ reason: skip.reason, device: skip.device, field: skip.field, source }, 'input skipped');
  }

  /**
   * A device's arrival time: now, or one millisecond after its last one when readings come faster than one a
   * millisecond, and after the device's latest time the journal held at start, unless that is more than a minute
   * ahead (a device clock of its own, not a burst). A burst makes arrival times run ahead of the clock; a bridge
   * restarted sooner than the burst's lead would otherwise give a time again, and the node would keep one of the
   * two readings (its writes are idempotent on device, metric and time).
   */
  #arrival(device: string): number {
    const now = this.#d.now();
    const loaded = this.#d.journal.latestTimes.get(device) ?? 0;
    const last = this.#lastArrival.get(device) ?? (loaded - now <= MAX_ARRIVAL_LEAD_MS ? loaded : 0);
    const ts = Math.max(now, last + 1);
    this.#lastArrival.set(device, ts);
    return ts;
  }
}
