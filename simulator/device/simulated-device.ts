import { type DeviceSigner, signMessage, type WireReading } from '../../src/index.js';
import type { FaultInjector } from '../faults/fault-injector.js';
import type { FaultKind } from '../faults/fault-kind.js';
import { buildFaultMessage, type FaultContext } from '../faults/fault-message.js';
import type { KindSampler } from '../kinds/device-kind.js';
import type { SeededRandom } from '../random/seeded-random.js';
import type { DeviceLink, OutgoingMessage, SendOutcome } from '../transport/device-link.js';
import { type BackoffPolicy, retryDelay } from '../transport/retry-delay.js';
import { IndexRanges } from './index-ranges.js';
import { type MessageLimits, messageOverhead, readingsThatFit } from './message-budget.js';
import { type ReadingSchedule, readingDueTime, readingsDue, readingTime } from './reading-schedule.js';

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

/** Attempts at getting a fault answered before it counts as unanswered. */
const FAULT_ATTEMPTS = 20;

interface Pending extends OutgoingMessage {
  readonly attempts: number;
  readonly notBefore: number;
}

interface Buffered extends WireReading {
  readonly index: number;
}

/**
 * One simulated device with the client-side state docs/PROTOCOL.md §13 asks
 * for: its seq, readings buffered until sent (growing while offline), messages
 * not yet acknowledged, retried with backoff and jitter (honouring Retry-After),
 * and messages refused for good dropped and counted.
 */
export class SimulatedDevice {
  readonly id: string;
  readonly acknowledged = new IndexRanges();
  readonly unconfirmed = new IndexRanges();
  readonly rejected = new Map<string, number>();
  #o: SimulatedDeviceOptions;
  #overhead: number;
  #sampled = 0;
  #seq = 0;
  #buffer: Buffered[] = [];
  #retries: Pending[] = [];
  #inFlight = 0;
  #pausedUntil = 0;
  #online = false;
  #stopped = false;
  #tickTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #idle: (() => void) | undefined;
  #sent = 0;
  #lastAcknowledged: OutgoingMessage | undefined;
  #faultBusy = false;

  constructor(options: SimulatedDeviceOptions) {
    this.#o = options;
    this.id = options.signer.device;
    this.#overhead = messageOverhead(options.signer);
  }

  /** When this device takes its readings. */
  get schedule(): ReadingSchedule {
    return this.#o.schedule;
  }
  /** Whether its link ever got through to a node. */
  get linkEverConnected(): boolean {
    return this.#o.link.everConnected;
  }
  get sampled(): number {
    return this.#sampled;
  }
  /** Messages not yet acknowledged or dropped: in flight or waiting to be retried. */
  get pending(): number {
    return this.#inFlight + this.#retries.length;
  }
  get buffered(): number {
    return this.#buffer.length;
  }
  /** Real messages sent (each counted once, however often it was attempted). */
  get sent(): number {
    return this.#sent;
  }
  get inFlight(): number {
    return this.#inFlight;
  }
  get online(): boolean {
    return this.#online;
  }
  /** Whether sampling is over. */
  get samplingDone(): boolean {
    const { readings, time } = this.#o.stopAt;
    return (readings !== undefined && this.#sampled >= readings) || (time !== undefined && this.#o.now() >= time);
  }
  /** Whether everything sampled has been settled (acknowledged, sent unconfirmed or dropped). */
  get settled(): boolean {
    return this.samplingDone && this.#buffer.length === 0 && this.pending === 0 && !this.#faultBusy;
  }

  /** Starts sampling and connects. */
  start(): void {
    this.goOnline();
    this.#tick();
  }

  /** Disconnects; readings keep being sampled into the buffer. */
  async goOffline(): Promise<void> {
    this.#online = false;
    await this.#o.link.close();
  }

  /** Cuts its connection abruptly, as a network fault would; the link reconnects and the device resends. */
  cutConnection(): void {
    if (this.#online && !this.#stopped) this.#o.link.cut();
  }

  goOnline(): void {
    this.#online = true;
    this.#o.link.open(() => this.#pump());
  }

  /** Resolves once everything sampled is settled. */
  whenSettled(): Promise<void> {
    if (this.settled) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  /** Stops timers and the link; what is still pending stays unacknowledged. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#tickTimer);
    clearTimeout(this.#retryTimer);
    await this.#o.link.close();
  }

  #sample(now: number): void {
    const { readings = Number.POSITIVE_INFINITY, time = Number.POSITIVE_INFINITY } = this.#o.stopAt;
    const due = Math.min(readingsDue(this.#o.schedule, now), readings);
    while (this.#sampled < due) {
      const index = this.#sampled;
      if (readingDueTime(this.#o.schedule, index) >= time) break;
      const ts = readingTime(this.#o.schedule, index);
      this.#buffer.push({ index, ts, values: this.#o.sampler.sample(ts) });
      this.#sampled++;
    }
  }

  #tick(): void {
    if (this.#stopped) return;
    const now = this.#o.now();
    this.#sample(now);
    this.#pump();
    this.#checkIdle();
    if (this.samplingDone) return;
    const interval = 1000 / this.#o.messagesPerSecond;
    const next = this.#o.schedule.t0 + (Math.floor((now - this.#o.schedule.t0) / interval) + 1) * interval;
    this.#tickTimer = setTimeout(() => this.#tick(), Math.max(1, next - now));
  }

  #pump(): void {
    if (this.#stopped || !this.#online || !this.#o.link.ready) return;
    const now = this.#o.now();
    if (now < this.#pausedUntil) {
      this.#wakeAt(this.#pausedUntil);
      return;
    }
    while (this.#inFlight < this.#o.window) {
      const due = this.#retries.findIndex((p) => p.notBefore <= now);
      if (due >= 0) {
        const [message] = this.#retries.splice(due, 1);
        if (message !== undefined) this.#send(message);
      } else if (this.#buffer.length > 0) {
        this.#sendNew();
      } else break;
    }
    const next = Math.min(...this.#retries.map((p) => p.notBefore));
    if (Number.isFinite(next)) this.#wakeAt(next);
  }

  #wakeAt(time: number): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#pump(), Math.max(1, time - this.#o.now()));
  }

  #sendNew(): void {
    const count = readingsThatFit(this.#buffer, this.#overhead, this.#o.limits);
    const chunk = this.#buffer.splice(0, count);
    const first = chunk[0]?.index ?? 0;
    const last = chunk[chunk.length - 1]?.index ?? first;
    const seq = ++this.#seq;
    const readings = chunk.map(({ ts, values }) => ({ ts, values }));
    this.#inFlight++;
    this.#sent++;
    this.#maybeInjectFault();
    signMessage(this.#o.signer, seq, readings).then(
      (jws) => this.#attempt({ seq, jws, first, last, attempts: 0, notBefore: 0 }),
      () =>
        this.#settle({ seq, jws: '', first, last, attempts: 0, notBefore: 0 }, 0, {
          kind: 'rejected',
          code: 'SIM_SIGNING_FAILED',
        }),
    );
  }

  #send(message: Pending): void {
    this.#inFlight++;
    this.#attempt(message);
  }

  #attempt(message: Pending): void {
    this.#o.events.attempted(this.id);
    const started = performance.now();
    void this.#o.link.send(message).then((outcome) => this.#settle(message, performance.now() - started, outcome));
  }

  #settle(message: Pending, latencyMs: number, outcome: SendOutcome): void {
    this.#inFlight--;
    const readings = message.last - message.first + 1;
    const { events } = this.#o;
    if (outcome.kind === 'acknowledged') {
      this.acknowledged.add(message.first, message.last);
      this.#lastAcknowledged = message;
      events.acknowledged(this.id, latencyMs, readings);
    } else if (outcome.kind === 'sent') {
      this.unconfirmed.add(message.first, message.last);
      events.sentUnconfirmed(this.id, readings);
    } else if (outcome.kind === 'rejected') {
      this.rejected.set(outcome.code, (this.rejected.get(outcome.code) ?? 0) + 1);
      events.rejected(this.id, outcome.code, readings);
    } else {
      events.retrying(this.id, outcome.code);
      const attempts = message.attempts + 1;
      const delay = retryDelay(attempts, this.#o.backoff, this.#o.rng, outcome.retryAfterMs);
      const notBefore = this.#o.now() + delay;
      if (outcome.retryAfterMs !== undefined) this.#pausedUntil = Math.max(this.#pausedUntil, notBefore);
      this.#retries.push({ ...message, attempts, notBefore });
    }
    this.#pump();
    this.#checkIdle();
  }

  /** Injects at most one fault at a time, so a notice without a seq can only be about it. */
  #maybeInjectFault(): void {
    const faults = this.#o.faults;
    if (faults === undefined || this.#faultBusy) return;
    const kind = faults.injector.pick(faults.rng, {
      canReplay: this.#lastAcknowledged !== undefined,
      canExpireCredential: this.#o.signer.credential !== undefined && faults.context.issuerKey !== undefined,
      canBorrowKey: faults.context.other !== undefined,
    });
    if (kind === undefined) return;
    this.#faultBusy = true;
    void this.#sendFault(kind, faults)
      .then(
        (outcome) => faults.injector.record(kind, outcome),
        () => faults.injector.record(kind, { kind: 'rejected', code: 'SIM_FAULT_NOT_BUILT' }),
      )
      .finally(() => {
        this.#faultBusy = false;
        this.#checkIdle();
      });
  }

  async #sendFault(kind: FaultKind, faults: DeviceFaults): Promise<SendOutcome | undefined> {
    let message: OutgoingMessage;
    if (kind === 'replay') {
      const replayed = this.#lastAcknowledged;
      if (replayed === undefined) return undefined;
      message = { seq: replayed.seq, jws: replayed.jws, first: -1, last: -1 };
    } else {
      const seq = ++this.#seq;
      const context = { ...faults.context, signer: this.#o.signer, seq, now: this.#o.now() };
      message = { seq, jws: await buildFaultMessage(kind, context), first: -1, last: -1, probe: true };
    }
    for (let attempt = 1; attempt <= FAULT_ATTEMPTS && !this.#stopped; attempt++) {
      if (this.#online && this.#o.link.ready) {
        const outcome = await this.#o.link.send(message);
        if (outcome.kind !== 'retry') return outcome;
      }
      const delay = retryDelay(attempt, this.#o.backoff, faults.rng);
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
    }
    return undefined;
  }

  #checkIdle(): void {
    if (this.#idle !== undefined && this.settled) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }
}
