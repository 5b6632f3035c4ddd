import type { Logger } from 'pino';
import { type DeviceSigner, type SendOutcome, tokenDueForRenewal } from '../../src/index.js';
import type { BridgeMetrics } from '../bridge-metrics.js';
import { type MqttAnswer, NodeMqttConnection } from './node-mqtt-connection.js';

/** One signed message for the node, and the device key that signs its connection token. */
export interface MqttOutgoing {
  readonly signer: DeviceSigner;
  readonly seq: number;
  readonly jws: string;
}

/** How the bridge talks to a node's embedded broker. */
export interface NodeMqttClientOptions {
  readonly url: string;
  /** Most device connections open at once. */
  readonly maxConnections: number;
  /** A connection nothing was sent on for this long is closed. */
  readonly idleMs: number;
  readonly tokenTtlSeconds: number;
  readonly audience: string;
  /** How long a PUBACK (or CONNACK) may take before the message counts as unanswered. */
  readonly answerTimeoutMs: number;
  readonly metrics: BridgeMetrics;
  readonly logger: Logger;
  readonly now: () => number;
}

/** Most messages of one device in flight on its connection, below the node's 32 (PROTOCOL.md §10.1). */
const WINDOW = 16;

/**
 * The bridge's MQTT upstream: each bridged device connects to the node's
 * embedded broker as itself (a {@link NodeMqttConnection}), opened when it has
 * something to send, at most `maxConnections` open at once (the least recently
 * used idle one makes room, and one idle for `idleMs` is closed), and renewed
 * with a fresh token when the shared token schedule says so: sending stops, the
 * messages in flight get the schedule's grace to settle, then a new connection.
 * A device whose connection failed sends nothing more in that round: its
 * remaining messages wait for the forwarder's backoff.
 */
export class NodeMqttClient {
  readonly #o: NodeMqttClientOptions;
  /** Open connections, least recently used first. */
  readonly #connections = new Map<string, NodeMqttConnection>();
  readonly #idleTimers = new Map<string, NodeJS.Timeout>();
  /** Devices sending now: their connections are not closed to make room. */
  readonly #busy = new Set<string>();
  /** Connections being opened: they count against maxConnections already. */
  #opening = 0;
  #closing = false;

  constructor(options: NodeMqttClientOptions) {
    this.#o = options;
  }

  /** Publishes `messages` (each device's in order, devices side by side) and resolves with one answer per message. */
  async send(messages: readonly MqttOutgoing[]): Promise<MqttAnswer[]> {
    const answers: MqttAnswer[] = messages.map(() => ({
      answered: false,
      outcome: { kind: 'retry', code: 'MQTT_NOT_SENT' },
    }));
    const perDevice = new Map<string, number[]>();
    for (const [i, message] of messages.entries()) {
      const list = perDevice.get(message.signer.device);
      if (list === undefined) perDevice.set(message.signer.device, [i]);
      else list.push(i);
    }
    const queue = [...perDevice.values()];
    const worker = async () => {
      for (let indexes = queue.shift(); indexes !== undefined; indexes = queue.shift()) {
        await this.#sendDevice(messages, indexes, answers);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#o.maxConnections, queue.length) }, worker));
    return answers;
  }

  /** Closes every connection; what is in flight is a retry. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const timer of this.#idleTimers.values()) clearTimeout(timer);
    this.#idleTimers.clear();
    await Promise.all([...this.#connections.values()].map((c) => c.close()));
  }

  /** Sends one device's messages of a round over its connection, up to {@link WINDOW} in flight. */
  async #sendDevice(messages: readonly MqttOutgoing[], indexes: readonly number[], answers: MqttAnswer[]) {
    const first = messages[indexes[0] ?? -1];
    if (first === undefined) return;
    const { device } = first.signer;
    this.#busy.add(device);
    clearTimeout(this.#idleTimers.get(device));
    const pending = new Set<Promise<void>>();
    let failed: MqttAnswer | undefined;
    try {
      for (const i of indexes) {
        const message = messages[i];
        if (message === undefined) continue;
        if (failed !== undefined || this.#closing) {
          answers[i] = failed ?? { answered: false, outcome: { kind: 'retry', code: 'MQTT_NOT_SENT' } };
          continue;
        }
        const connection = await this.#connectionFor(message.signer);
        if (!(connection instanceof NodeMqttConnection)) {
          failed = connection;
          answers[i] = connection;
          continue;
        }
        const sent = connection.publish(message.seq, message.jws).then((answer) => {
          answers[i] = answer;
          this.#o.metrics.requests.inc({ endpoint: 'mqtt', result: answer.answered ? 'answered' : 'no_answer' });
          // The connection is gone (the node closed it, a PUBACK never came): the rest waits for the backoff.
          if (answer.outcome.kind === 'retry') failed ??= notSent(answer.outcome);
          pending.delete(sent);
        });
        pending.add(sent);
        if (pending.size >= WINDOW) await Promise.race(pending);
      }
      await Promise.all(pending);
    } finally {
      this.#busy.delete(device);
      this.#armIdle(device);
    }
  }

  /** The device's open connection, renewed first when its token is due; a new one (making room) when it has none. */
  async #connectionFor(signer: DeviceSigner): Promise<NodeMqttConnection | MqttAnswer> {
    const { device } = signer;
    const existing = this.#connections.get(device);
    if (existing !== undefined && !existing.closed) {
      if (!tokenDueForRenewal(existing.schedule, this.#o.now())) {
        // Most recently used last.
        this.#connections.delete(device);
        this.#connections.set(device, existing);
        return existing;
      }
      this.#o.metrics.mqttTokenRenewals.inc();
      await existing.drain(existing.schedule.graceMs);
      await existing.close();
    }
    await this.#takeSlot();
    let opened: Awaited<ReturnType<typeof NodeMqttConnection.open>>;
    try {
      opened = await NodeMqttConnection.open({
        url: this.#o.url,
        signer,
        tokenTtlSeconds: this.#o.tokenTtlSeconds,
        audience: this.#o.audience,
        answerTimeoutMs: this.#o.answerTimeoutMs,
        now: this.#o.now,
        onClosed: (connection) => this.#forget(connection),
      });
    } finally {
      this.#opening--;
    }
    if (!(opened instanceof NodeMqttConnection)) {
      this.#o.metrics.mqttConnects.inc({ result: opened.answered ? 'refused' : 'no_answer' });
      const code = opened.outcome.kind === 'acknowledged' ? undefined : opened.outcome.code;
      this.#o.logger.warn({ device, code }, 'the node did not take the MQTT connection');
      return opened;
    }
    this.#o.metrics.mqttConnects.inc({ result: 'connected' });
    if (opened.closed) return { answered: false, outcome: { kind: 'retry', code: 'MQTT_CONNECTION_LOST' } };
    this.#connections.set(device, opened);
    this.#o.metrics.mqttConnections.set(this.#connections.size);
    if (this.#closing) await opened.close();
    return opened;
  }

  /**
   * Reserves room for one more connection, closing the least recently used
   * connection of a device not sending now while there is none. The room is
   * taken in the same step that finds it, so devices opening side by side
   * cannot both take the last one.
   */
  async #takeSlot(): Promise<void> {
    for (;;) {
      if (this.#connections.size + this.#opening < this.#o.maxConnections) {
        this.#opening++;
        return;
      }
      const idle = [...this.#connections.values()].find((c) => !this.#busy.has(c.device));
      // Cannot happen while at most maxConnections devices send at once; never wait forever on it.
      if (idle === undefined) {
        this.#opening++;
        return;
      }
      await idle.close();
    }
  }

  /** Closes the device's connection once it has been idle for `idleMs`. */
  #armIdle(device: string): void {
    if (this.#closing || !this.#connections.has(device)) return;
    clearTimeout(this.#idleTimers.get(device));
    const timer = setTimeout(() => {
      this.#idleTimers.delete(device);
      if (!this.#busy.has(device)) void this.#connections.get(device)?.close();
    }, this.#o.idleMs);
    timer.unref();
    this.#idleTimers.set(device, timer);
  }

  #forget(connection: NodeMqttConnection): void {
    if (this.#connections.get(connection.device) !== connection) return;
    this.#connections.delete(connection.device);
    clearTimeout(this.#idleTimers.get(connection.device));
    this.#idleTimers.delete(connection.device);
    this.#o.metrics.mqttConnections.set(this.#connections.size);
  }
}

/** The answer for a device's messages not sent after one of its messages came back for a retry. */
function notSent(outcome: Extract<SendOutcome, { kind: 'retry' }>): MqttAnswer {
  return { answered: false, outcome };
}
