import type { Logger } from 'pino';
import {
  type BackoffPolicy,
  type DeviceSigner,
  type MessageLimits,
  messageOverhead,
  RANDOM_JITTER,
  readingsThatFit,
  retryDelay,
  type SendOutcome,
  signMessage,
} from '../../src/index.js';
import type { BridgeMetrics } from '../bridge-metrics.js';
import type { BridgeSigner, DeviceKeysFolder } from '../keys/device-keys-folder.js';
import type { JournalEntry, ReadingJournal } from '../state/reading-journal.js';
import type { SeqFile } from '../state/seq-file.js';
import type { NodeClient } from './node-client.js';
import type { NodeMqttClient } from './node-mqtt-client.js';

/** What the forwarder needs. */
export interface ForwarderDeps {
  readonly journal: ReadingJournal;
  readonly keys: DeviceKeysFolder;
  readonly seqs: SeqFile;
  readonly client: NodeClient;
  /** When set, every message goes to the node's embedded broker instead of over HTTP. */
  readonly mqtt?: NodeMqttClient | undefined;
  readonly metrics: BridgeMetrics;
  readonly logger: Logger;
  readonly limits: MessageLimits;
  /** Most messages in one batch request. */
  readonly batchMessages: number;
  readonly backoff: BackoffPolicy;
  /** How long after a key was created ERR_UNKNOWN_KEY means "nodes have not loaded it yet". */
  readonly newKeyGraceMs: number;
  readonly now: () => number;
}

/** One signed message and the backlog readings it carries. */
interface Outgoing {
  readonly device: string;
  readonly signer: DeviceSigner;
  readonly seq: number;
  readonly jws: string;
  readonly ids: readonly number[];
  readonly keyCreatedAt: number;
}

/**
 * Sends the backlog to the node until stopped: the oldest readings first,
 * grouped per device into signed messages within the message limits; one
 * message goes to `POST /v1/messages`, several (a backlog) to
 * `POST /v1/messages/batch`, or, with an MQTT upstream, each message is
 * published by its device's connection to the node's embedded broker. A
 * reading leaves the backlog only when the node acknowledged it (2xx, or a
 * PUBACK without a notice) or refused it for good; anything else is sent again
 * after a backoff with jitter, never sooner than the node's Retry-After
 * (PROTOCOL.md §9.3). One round is in flight at a time.
 */
export class Forwarder {
  readonly #d: ForwarderDeps;
  #failures = 0;
  #notBefore = 0;
  #stopped = false;
  #wake: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(deps: ForwarderDeps) {
    this.#d = deps;
  }

  /** Starts the send loop. */
  start(): void {
    this.#running ??= this.#loop();
  }

  /** New readings are waiting. */
  poke(): void {
    this.#wake?.();
  }

  /** Stops after the round in flight (its readings stay in the backlog unless acknowledged). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.poke();
    await this.#running;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const wait = this.#notBefore - this.#d.now();
      if (wait > 0) {
        await this.#sleep(wait);
        continue;
      }
      let sent = false;
      try {
        sent = await this.#round();
      } catch (error) {
        this.#d.logger.error({ err: error }, 'forwarding round failed');
        this.#backOff(undefined);
      }
      if (!sent && !this.#stopped && this.#notBefore <= this.#d.now()) await this.#sleep(undefined);
    }
  }

  /** Waits `ms` (or, when undefined, until poked), or until stopped. */
  #sleep(ms: number | undefined): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(this.#timer);
        this.#wake = undefined;
        resolve();
      };
      this.#wake = done;
      if (ms !== undefined) this.#timer = setTimeout(done, ms);
    });
  }

  /** Sends one round; whether there was anything to send. */
  async #round(): Promise<boolean> {
    const messages = await this.#build();
    if (messages.length === 0) return false;
    const { journal, metrics, client } = this.#d;
    const ids = messages.flatMap((m) => m.ids);
    journal.markInFlight(ids);
    let outcomes: SendOutcome[];
    if (this.#d.mqtt !== undefined) {
      // Counted per message in the MQTT client, as `endpoint="mqtt"`.
      outcomes = (await this.#d.mqtt.send(messages)).map((answer) => answer.outcome);
    } else if (messages.length === 1 && messages[0] !== undefined) {
      const { answered, outcome } = await client.sendMessage(messages[0].jws);
      metrics.requests.inc({ endpoint: 'single', result: answered ? 'answered' : 'no_answer' });
      outcomes = [outcome];
    } else {
      const answer = await client.sendBatch(messages.map((m) => m.jws));
      metrics.requests.inc({ endpoint: 'batch', result: answer.answered ? 'answered' : 'no_answer' });
      outcomes = answer.outcomes;
    }
    let retryAfterMs: number | undefined;
    let retried = false;
    for (const [i, message] of messages.entries()) {
      const outcome = this.#withNewKeyGrace(outcomes[i] ?? { kind: 'retry', code: 'NO_RESULT' }, message);
      if (outcome.kind === 'acknowledged') {
        journal.settle(message.ids);
        metrics.acknowledged.inc(message.ids.length);
      } else if (outcome.kind === 'rejected') {
        journal.settle(message.ids);
        metrics.rejected.inc({ code: outcome.code }, message.ids.length);
        this.#d.logger.warn(
          { device: message.device, code: outcome.code, readings: message.ids.length },
          'readings refused for good',
        );
      } else {
        journal.release(message.ids);
        metrics.retries.inc({ code: outcome.code });
        retried = true;
        if (outcome.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, outcome.retryAfterMs);
      }
    }
    metrics.waiting.set(journal.size);
    metrics.waitingBytes.set(journal.bytes);
    if (retried) this.#backOff(retryAfterMs);
    else this.#failures = 0;
    return true;
  }

  /** ERR_UNKNOWN_KEY for a key made moments ago: the nodes have not reloaded their registry yet, so resend. */
  #withNewKeyGrace(outcome: SendOutcome, message: Outgoing): SendOutcome {
    if (outcome.kind !== 'rejected' || outcome.code !== 'ERR_UNKNOWN_KEY') return outcome;
    if (this.#d.now() - message.keyCreatedAt > this.#d.newKeyGraceMs) return outcome;
    return { kind: 'retry', code: 'ERR_UNKNOWN_KEY' };
  }

  #backOff(retryAfterMs: number | undefined): void {
    this.#failures++;
    const delay = retryDelay(this.#failures, this.#d.backoff, RANDOM_JITTER, retryAfterMs);
    this.#notBefore = this.#d.now() + delay;
    this.#d.logger.info(
      { delayMs: delay, failures: this.#failures },
      'node did not take every message; retrying later',
    );
  }

  /**
   * The next round's messages: the waiting readings, oldest first, per device
   * in arrival order, cut into messages that fit the limits and never repeat a
   * time within one message (the node would refuse it, PROTOCOL.md §2.2).
   */
  async #build(): Promise<Outgoing[]> {
    const { batchMessages, limits } = this.#d;
    const perDevice = new Map<string, JournalEntry[][]>();
    let count = 0;
    for (const entry of this.#d.journal.waiting()) {
      let chunks = perDevice.get(entry.device);
      if (chunks === undefined) {
        if (count >= batchMessages) continue;
        chunks = [[]];
        perDevice.set(entry.device, chunks);
        count++;
      }
      let last = chunks[chunks.length - 1] ?? [];
      if (last.length >= limits.maxReadingsPerMessage || last.some((e) => e.ts === entry.ts)) {
        if (count >= batchMessages) continue;
        last = [];
        chunks.push(last);
        count++;
      }
      last.push(entry);
    }
    const messages: Outgoing[] = [];
    for (const [device, chunks] of perDevice) {
      try {
        const key = await this.#d.keys.signerFor(device);
        if (key === undefined) continue;
        for (const chunk of chunks) messages.push(...(await this.#sign(device, key, chunk)));
      } catch (error) {
        // One device whose key went bad waits in the backlog; the others go on.
        this.#d.logger.error({ err: error, device }, 'cannot sign for the device; its readings wait');
      }
    }
    return messages;
  }

  /** Signs `chunk` as one message, or several when it is larger than a message may be. */
  async #sign(device: string, key: BridgeSigner, chunk: readonly JournalEntry[]): Promise<Outgoing[]> {
    const overhead = messageOverhead(key.signer);
    const out: Outgoing[] = [];
    let rest = chunk;
    while (rest.length > 0) {
      const readings = rest.map((e) => ({ ts: e.ts, values: e.values }));
      const n = readingsThatFit(readings, overhead, this.#d.limits);
      const seq = this.#d.seqs.next(device);
      const jws = await signMessage(key.signer, seq, readings.slice(0, n));
      out.push({
        device,
        signer: key.signer,
        seq,
        jws,
        ids: rest.slice(0, n).map((e) => e.id),
        keyCreatedAt: key.createdAt,
      });
      rest = rest.slice(n);
    }
    return out;
  }
}
