import { connect, type MqttClient } from 'mqtt';
import {
  acksTopic,
  connectionTokenSchedule,
  type DeviceSigner,
  type ErrorNotice,
  errorsTopic,
  messagesTopic,
  outcomeOfNotice,
  parseDeliveryAck,
  signConnectionToken,
} from '../../src/index.js';
import type { SeededRandom } from '../random/seeded-random.js';
import type { DeviceLink, LinkEvents, OutgoingMessage, SendOutcome } from './device-link.js';
import { parseErrorNotice } from './parse-error-notice.js';
import { type BackoffPolicy, retryDelay } from './retry-delay.js';

export interface MqttLinkOptions {
  readonly url: string;
  readonly signer: DeviceSigner;
  readonly qos: 0 | 1;
  /**
   * What counts as delivered for a QoS 1 message: the PUBACK (`puback`; the embedded broker sends it once
   * stored), or the node's acknowledgement on `devices/{id}/acks` (`end-to-end`, docs/PROTOCOL.md §10.3; what
   * an external broker's PUBACK cannot say). Default `puback`.
   */
  readonly acks?: 'puback' | 'end-to-end';
  /** End-to-end mode: resend a message that got neither an acknowledgement nor a notice within this long. */
  readonly ackTimeoutMs?: number;
  /** Lifetime of each connection token; the link reconnects with a fresh one at 80 % of it. */
  readonly tokenTtlSeconds: number;
  readonly audience: string;
  readonly backoff: BackoffPolicy;
  /** For reconnect jitter. */
  readonly rng: SeededRandom;
  readonly now: () => number;
  readonly events: LinkEvents;
}

/** Notices about the connection rather than a message (the node closes it when the token expires). */
const CONNECTION_CODES: ReadonlySet<string> = new Set(['ERR_TOKEN_EXPIRED', 'ERR_TOKEN_INVALID']);
/** How long a fault probe's PUBACK waits for the notice that may follow it. */
const PROBE_NOTICE_GRACE_MS = 2_000;
/** End-to-end mode: how long a message waits for its acknowledgement by default (docs/PROTOCOL.md §10.3). */
const DEFAULT_ACK_TIMEOUT_MS = 30_000;

/**
 * A device's MQTT connection (MQTT 3.1.1, one per device): username = device
 * id, password = a connection token it signs (docs/PROTOCOL.md §4.3),
 * subscribed to its errors topic. QoS 1 messages are acknowledged by PUBACK
 * unless a notice for their seq came first, or, in end-to-end mode (an external
 * broker, whose PUBACK means only that the broker has the message), by the
 * node's acknowledgement on the acks topic, and resent when none comes in time.
 * Lost connections are re-established with backoff and jitter, and the token is
 * renewed before it expires.
 */
export class MqttLink implements DeviceLink {
  readonly #o: MqttLinkOptions;
  #client: MqttClient | undefined;
  #ready = false;
  #wanted = false;
  #everConnected = false;
  #cutNext = false;
  #failures = 0;
  #retryAfterMs: number | undefined;
  #onReady: () => void = () => undefined;
  #emptied: (() => void) | undefined;
  #renewAt = 0;
  /** How long a renewal lets the messages in flight settle (the token schedule's grace). */
  #renewGraceMs = 0;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  readonly #inFlight = new Map<number, (outcome: SendOutcome) => void>();
  /** End-to-end mode: the timer that gives up waiting for each in-flight message's acknowledgement. */
  readonly #ackTimers = new Map<number, NodeJS.Timeout>();
  readonly #notices = new Map<number, ErrorNotice>();
  /**
   * The fault probe in flight, which notices without a seq are about. The node
   * may send the PUBACK of a refused message before its notice arrives, so a
   * probe's PUBACK waits a moment for the notice before it counts as stored.
   */
  #probe: { readonly seq: number; settle?: (outcome: SendOutcome) => void; timer?: NodeJS.Timeout } | undefined;

  constructor(options: MqttLinkOptions) {
    this.#o = options;
  }

  get ready(): boolean {
    return this.#ready;
  }

  get everConnected(): boolean {
    return this.#everConnected;
  }

  open(onReady: () => void): void {
    this.#onReady = onReady;
    if (this.#wanted) return;
    this.#wanted = true;
    void this.#connect();
  }

  get #endToEnd(): boolean {
    return this.#o.acks === 'end-to-end' && this.#o.qos === 1;
  }

  send(message: OutgoingMessage): Promise<SendOutcome> {
    const client = this.#client;
    if (client === undefined || !this.#ready) return Promise.resolve({ kind: 'retry', code: 'SIM_NOT_CONNECTED' });
    if (this.#endToEnd) return this.#sendEndToEnd(client, message);
    return new Promise((settle) => {
      const { seq } = message;
      if (this.#o.qos === 1) this.#inFlight.set(seq, settle);
      if (message.probe === true && this.#o.qos === 1) this.#probe = { seq };
      client.publish(messagesTopic(this.#o.signer.device), message.jws, { qos: this.#o.qos }, (error) => {
        // mqtt.js passes null or undefined on success, depending on the path.
        const failed = error !== undefined && error !== null;
        if (this.#o.qos === 0) return settle(failed ? this.#lostOutcome(seq) : { kind: 'sent' });
        if (!this.#inFlight.delete(seq)) return;
        if (this.#inFlight.size === 0) this.#emptied?.();
        const notice = this.#notices.get(seq);
        this.#notices.delete(seq);
        const probe = this.#probe?.seq === seq ? this.#probe : undefined;
        if (probe !== undefined && !failed && notice === undefined) {
          probe.settle = settle;
          probe.timer = setTimeout(() => this.#settleProbe({ kind: 'acknowledged' }), PROBE_NOTICE_GRACE_MS);
          return;
        }
        if (probe !== undefined) this.#probe = undefined;
        if (failed) settle(this.#lostOutcome(seq));
        else if (notice !== undefined) settle(outcomeOfNotice(notice));
        else settle({ kind: 'acknowledged' });
      });
      // mqtt.js hands the packet to the socket asynchronously: cut once it has.
      if (this.#cutNext) setImmediate(() => this.#cutNow());
    });
  }

  /**
   * Publishes at QoS 1 and waits for the node's acknowledgement of its seq (or a notice) rather than the
   * broker's PUBACK; gives up after the ack timeout, and the message is resent with the same bytes.
   */
  #sendEndToEnd(client: MqttClient, message: OutgoingMessage): Promise<SendOutcome> {
    const { seq } = message;
    return new Promise((settle) => {
      this.#inFlight.set(seq, settle);
      if (message.probe === true) this.#probe = { seq };
      this.#ackTimers.set(
        seq,
        setTimeout(
          () => this.#settleEndToEnd(seq, { kind: 'retry', code: 'SIM_ACK_TIMEOUT' }),
          this.#o.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
        ),
      );
      client.publish(messagesTopic(this.#o.signer.device), message.jws, { qos: 1 }, (error) => {
        if (error !== undefined && error !== null) this.#settleEndToEnd(seq, this.#lostOutcome(seq));
      });
      if (this.#cutNext) setImmediate(() => this.#cutNow());
    });
  }

  /** End-to-end mode: settles the in-flight message `seq` (once), whatever settled it. */
  #settleEndToEnd(seq: number, outcome: SendOutcome): void {
    const settle = this.#inFlight.get(seq);
    if (settle === undefined) return;
    this.#inFlight.delete(seq);
    clearTimeout(this.#ackTimers.get(seq));
    this.#ackTimers.delete(seq);
    this.#notices.delete(seq);
    if (this.#probe?.seq === seq) this.#probe = undefined;
    if (this.#inFlight.size === 0) this.#emptied?.();
    settle(outcome);
  }

  /**
   * Destroys the socket without DISCONNECT: the node sees a lost connection and
   * the close handler reconnects. With nothing in flight it waits for the next
   * PUBLISH and cuts just after it, so the PUBACK is lost and the message is resent.
   */
  cut(): void {
    if (this.#inFlight.size > 0 || this.#o.qos === 0) this.#cutNow();
    else this.#cutNext = true;
  }

  #cutNow(): void {
    this.#cutNext = false;
    const client = this.#client;
    if (client === undefined || !this.#ready) return;
    this.#o.events.dropped(this.#o.signer.device);
    client.stream.destroy();
  }

  async close(): Promise<void> {
    this.#wanted = false;
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#renewTimer);
    await this.#drop(true);
  }

  async #connect(): Promise<void> {
    const { signer, now, tokenTtlSeconds, audience } = this.#o;
    // The renewal policy (when, how long in-flight messages may take) is the shared device client's.
    const schedule = connectionTokenSchedule(now(), tokenTtlSeconds);
    const password = await signConnectionToken(signer, {
      now: schedule.issuedAt,
      lifetimeSeconds: tokenTtlSeconds,
      audience,
    });
    this.#renewAt = schedule.renewAt;
    this.#renewGraceMs = schedule.graceMs;
    if (!this.#wanted) return;
    const client = connect(this.#o.url, {
      protocolVersion: 4,
      clientId: signer.device,
      username: signer.device,
      password,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      keepalive: 60,
    });
    this.#client = client;
    client.on('connect', () => void this.#connected(client));
    client.on('message', (topic, payload) => this.#notice(topic, payload));
    client.on('error', (error) => {
      const code = (error as { code?: unknown }).code;
      this.#o.events.connectFailed(
        signer.device,
        typeof code === 'number' ? `CONNACK_${code}` : String(code ?? 'SIM_CONNECT_FAILED'),
      );
    });
    client.on('close', () => {
      if (this.#client === client) void this.#lost();
    });
  }

  async #connected(client: MqttClient): Promise<void> {
    const { device } = this.#o.signer;
    try {
      await client.subscribeAsync(this.#endToEnd ? [errorsTopic(device), acksTopic(device)] : errorsTopic(device), {
        qos: 1,
      });
    } catch {
      return; // the close handler takes over
    }
    if (this.#client !== client) return;
    this.#ready = true;
    this.#everConnected = true;
    this.#failures = 0;
    this.#retryAfterMs = undefined;
    this.#o.events.connected(this.#o.signer.device);
    clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(() => void this.#renew(), Math.max(0, this.#renewAt - this.#o.now()));
    this.#onReady();
  }

  /** Reconnects with a fresh token: stops sending, lets what is in flight finish (briefly), then reconnects. */
  async #renew(): Promise<void> {
    this.#ready = false;
    if (this.#inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => {
          this.#emptied = resolve;
        }),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.#renewGraceMs);
        }),
      ]);
      clearTimeout(timer);
      this.#emptied = undefined;
    }
    await this.#drop(false);
    if (this.#wanted) void this.#connect();
  }

  async #lost(): Promise<void> {
    const wasReady = this.#ready;
    await this.#drop(true);
    if (wasReady) this.#o.events.disconnected(this.#o.signer.device);
    if (!this.#wanted) return;
    this.#failures++;
    const delay = retryDelay(this.#failures, this.#o.backoff, this.#o.rng, this.#retryAfterMs);
    this.#retryAfterMs = undefined;
    this.#reconnectTimer = setTimeout(() => void this.#connect(), delay);
  }

  /** Ends the current client; what is in flight settles as a retry (or as rejected when a notice said so). */
  async #drop(force: boolean): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#ready = false;
    clearTimeout(this.#renewTimer);
    for (const timer of this.#ackTimers.values()) clearTimeout(timer);
    this.#ackTimers.clear();
    for (const [seq, settle] of this.#inFlight) settle(this.#lostOutcome(seq));
    this.#inFlight.clear();
    this.#notices.clear();
    this.#settleProbe({ kind: 'retry', code: 'SIM_CONNECTION_LOST' });
    if (client !== undefined) await client.endAsync(force).catch(() => undefined);
  }

  #notice(topic: string, payload: Buffer): void {
    const { device } = this.#o.signer;
    if (this.#endToEnd && topic === acksTopic(device)) {
      this.#acknowledged(payload);
      return;
    }
    if (topic !== errorsTopic(device)) return;
    const notice = parseErrorNotice(payload);
    if (notice === undefined) return;
    if (this.#endToEnd) {
      this.#noticeEndToEnd(notice);
      return;
    }
    if (notice.retryable && notice.retryAfter !== undefined) this.#retryAfterMs = notice.retryAfter * 1000;
    const probe = this.#probe;
    if (
      probe !== undefined &&
      (notice.seq === null || notice.seq === probe.seq) &&
      !CONNECTION_CODES.has(notice.code)
    ) {
      if (probe.settle === undefined) this.#notices.set(probe.seq, notice);
      else this.#settleProbe(outcomeOfNotice(notice));
    } else if (notice.seq !== null && this.#inFlight.has(notice.seq)) this.#notices.set(notice.seq, notice);
    else if (notice.seq === null && CONNECTION_CODES.has(notice.code)) {
      this.#o.events.connectFailed(this.#o.signer.device, notice.code);
    } else this.#o.events.lateRejection(this.#o.signer.device, notice.code, notice.retryable);
  }

  /** End-to-end mode: the node stored the messages whose seqs an acknowledgement lists. */
  #acknowledged(payload: Buffer): void {
    const ack = parseDeliveryAck(payload);
    for (const seq of ack?.seqs ?? []) this.#settleEndToEnd(seq, { kind: 'acknowledged' });
  }

  /** End-to-end mode: a notice settles its message (or the probe in flight, for a notice without a seq). */
  #noticeEndToEnd(notice: ErrorNotice): void {
    const outcome = outcomeOfNotice(notice);
    const probe = this.#probe;
    if (notice.seq !== null && this.#inFlight.has(notice.seq)) this.#settleEndToEnd(notice.seq, outcome);
    else if (probe !== undefined && notice.seq === null && !CONNECTION_CODES.has(notice.code))
      this.#settleEndToEnd(probe.seq, outcome);
    else if (notice.seq === null && CONNECTION_CODES.has(notice.code)) {
      this.#o.events.connectFailed(this.#o.signer.device, notice.code);
    } else this.#o.events.lateRejection(this.#o.signer.device, notice.code, notice.retryable);
  }

  /** Settles a probe whose PUBACK came, with `outcome`; forgets a probe still waiting for its PUBACK. */
  #settleProbe(outcome: SendOutcome): void {
    const probe = this.#probe;
    this.#probe = undefined;
    clearTimeout(probe?.timer);
    probe?.settle?.(outcome);
  }

  #lostOutcome(seq: number): SendOutcome {
    const notice = this.#notices.get(seq);
    if (notice === undefined) return { kind: 'retry', code: 'SIM_CONNECTION_LOST' };
    return outcomeOfNotice(notice);
  }
}
