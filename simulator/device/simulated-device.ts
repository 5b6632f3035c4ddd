import { signMessage } from '../../src/index.js';
import type { OutgoingMessage, SendOutcome } from '../transport/device-link.js';
import { type FaultHost, pickFault, sendFault } from './device-fault-sender.js';
import type { SimulatedDeviceOptions } from './device-options.js';
import { IndexRanges } from './index-ranges.js';
import { messageOverhead } from './message-budget.js';
import { type BufferedReading, takeChunk } from './reading-buffer.js';
import { type ReadingSchedule, readingDueTime, readingsDue, readingTime } from './reading-schedule.js';
import { firstAttempt, type Pending, RetryQueue } from './retry-queue.js';

export type { DeviceEvents, DeviceFaults, SimulatedDeviceOptions } from './device-options.js';

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
  #buffer: BufferedReading[] = [];
  #retries = new RetryQueue();
  #inFlight = 0;
  #online = false;
  #stopped = false;
  #tickTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  /** Set by the tick that found sampling over, after it sampled the last readings due. */
  #samplingFinished = false;
  #idle: (() => void) | undefined;
  #sent = 0;
  #lastAcknowledged: OutgoingMessage | undefined;
  #faultBusy = false;
  #faultHost: FaultHost;

  constructor(options: SimulatedDeviceOptions) {
    this.#o = options;
    this.id = options.signer.device;
    this.#overhead = messageOverhead(options.signer);
    this.#faultHost = {
      signer: options.signer,
      link: options.link,
      backoff: options.backoff,
      now: options.now,
      lastAcknowledged: () => this.#lastAcknowledged,
      nextSeq: () => ++this.#seq,
      online: () => this.#online,
      stopped: () => this.#stopped,
    };
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
    return this.#inFlight + this.#retries.size;
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
    return this.#samplingFinished && this.#buffer.length === 0 && this.pending === 0 && !this.#faultBusy;
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
    // Only a tick past the end has sampled every reading due before it: a late timer may still owe some.
    if (this.samplingDone) this.#samplingFinished = true;
    this.#pump();
    this.#checkIdle();
    if (this.#samplingFinished) return;
    const interval = 1000 / this.#o.messagesPerSecond;
    const next = this.#o.schedule.t0 + (Math.floor((now - this.#o.schedule.t0) / interval) + 1) * interval;
    this.#tickTimer = setTimeout(() => this.#tick(), Math.max(1, next - now));
  }

  #pump(): void {
    if (this.#stopped || !this.#online || !this.#o.link.ready) return;
    const now = this.#o.now();
    if (now < this.#retries.pausedUntil) {
      this.#wakeAt(this.#retries.pausedUntil);
      return;
    }
    while (this.#inFlight < this.#o.window) {
      const retry = this.#retries.takeDue(now);
      if (retry !== undefined) this.#send(retry);
      else if (this.#buffer.length > 0) this.#sendNew();
      else break;
    }
    const next = this.#retries.nextDue;
    if (Number.isFinite(next)) this.#wakeAt(next);
  }

  #wakeAt(time: number): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#pump(), Math.max(1, time - this.#o.now()));
  }

  #sendNew(): void {
    const { first, last, readings } = takeChunk(this.#buffer, this.#overhead, this.#o.limits);
    const seq = ++this.#seq;
    this.#inFlight++;
    this.#sent++;
    this.#maybeInjectFault();
    signMessage(this.#o.signer, seq, readings).then(
      (jws) => this.#attempt(firstAttempt({ seq, jws, first, last })),
      () =>
        this.#settle(firstAttempt({ seq, jws: '', first, last }), 0, {
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
      this.#retries.add(message, outcome, this.#o.backoff, this.#o.rng, this.#o.now());
    }
    this.#pump();
    this.#checkIdle();
  }

  /** Injects at most one fault at a time, so a notice without a seq can only be about it. */
  #maybeInjectFault(): void {
    const faults = this.#o.faults;
    if (faults === undefined || this.#faultBusy) return;
    const kind = pickFault(faults, this.#faultHost);
    if (kind === undefined) return;
    this.#faultBusy = true;
    void sendFault(kind, faults, this.#faultHost)
      .then(
        (outcome) => faults.injector.record(kind, outcome),
        () => faults.injector.record(kind, { kind: 'rejected', code: 'SIM_FAULT_NOT_BUILT' }),
      )
      .finally(() => {
        this.#faultBusy = false;
        this.#checkIdle();
      });
  }

  #checkIdle(): void {
    if (this.#idle !== undefined && this.settled) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }
}
