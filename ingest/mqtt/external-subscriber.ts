import type { IPublishPacket } from 'mqtt-packet';
import type { TelemetryError } from '../../src/errors.js';
import { ALL_MESSAGES_FILTER, deviceOfMessagesTopic, errorsTopic } from '../../src/protocol/topics.js';
import type { TransportDeps } from '../transport-deps.js';
import { BrokerClient, type BrokerClosed } from './broker-client.js';
import { DeliveryAcks } from './delivery-acks.js';
import { errorNotice } from './error-notice.js';
import { pubackReasonCode } from './mqtt-codes.js';

/** The structured logger the subscriber writes to (pino's shape). */
export interface SubscriberLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  debug?(fields: Record<string, unknown>, message: string): void;
}

export interface ExternalSubscriberOptions {
  /** Broker URL: `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  readonly url: string;
  /** Shared subscription group: every node of one deployment uses the same one, so they split the stream. */
  readonly shareGroup: string;
  /** Client id of the first connection, unique across nodes (the others add `-2`, `-3`, ...). */
  readonly clientId: string;
  /** Connections to open, each a member of the share group; default 1. */
  readonly connections?: number;
  /**
   * MQTT 5 Receive Maximum of each connection: how many messages the broker hands
   * it before it has acknowledged the first; default 256.
   */
  readonly receiveMaximum?: number;
  /** Largest packet the broker may send (MQTT 5 Maximum Packet Size); default 69 632 (64 KiB + 4 KiB). */
  readonly maximumPacketSize?: number;
  readonly username?: string;
  readonly password?: string;
  readonly logger?: SubscriberLogger;
  /** Reconnect delays after a lost connection: doubles from minMs up to maxMs, back to minMs once a message is stored. */
  readonly backoff?: { readonly minMs: number; readonly maxMs: number };
  /** Longest close() waits for the messages in hand, their acknowledgements and the DISCONNECT. */
  readonly closeTimeoutMs?: number;
  /** MQTT keep-alive of each connection, seconds; default 30. */
  readonly keepaliveSeconds?: number;
  /** Longest a connection attempt (socket and CONNACK) may take; default 10 000 ms. */
  readonly connectTimeoutMs?: number;
}

/** A node's subscription on an external broker. */
export interface ExternalSubscriber {
  /** The shared subscription filter, `$share/{group}/devices/+/messages`. */
  readonly filter: string;
  /** The client id of each connection, the first being the configured one. */
  readonly clientIds: readonly string[];
  /** Leaves the share group, finishes the messages in hand (acknowledging them), and disconnects. */
  close(): Promise<void>;
}

const DEFAULT_RECEIVE_MAXIMUM = 256;
const DEFAULT_MAXIMUM_PACKET_SIZE = 65_536 + 4_096;
// MQTT 5 PUBACK reason codes, §3.4.2.1.
const REASON_SUCCESS = 0x00;
const REASON_TOPIC_NAME_INVALID = 0x90;

/**
 * The client ids of a node's `connections` broker connections: the configured
 * one, then `{clientId}-2`, `{clientId}-3`, ...
 *
 * @example
 * connectionClientIds('ingest-1', 3); // ['ingest-1', 'ingest-1-2', 'ingest-1-3']
 */
function connectionClientIds(clientId: string, connections: number): string[] {
  return Array.from({ length: connections }, (_, n) => (n === 0 ? clientId : `${clientId}-${n + 1}`));
}

/**
 * Subscribes a node to `$share/{group}/devices/+/messages` on an external
 * broker at QoS 1 and hands every message to the node's pipeline, with the
 * device taken from the topic (docs/PROTOCOL.md §10.2).
 *
 * - **Many messages at once.** Each connection announces a Receive Maximum of
 *   hundreds and works on every message as it arrives; each is PUBACKed to the
 *   broker once the pipeline is done with it, so batches fill as they do with
 *   the embedded broker.
 * - **Acknowledged end to end.** The broker's PUBACK to the device only means
 *   the broker has the message. Once a message's readings are stored, the node
 *   publishes `{"seqs":[…]}` on `devices/{id}/acks` (§10.3), which is what a
 *   device counts as delivered; it resends what gets no acknowledgement.
 * - **No state at the broker.** Sessions are clean and end with the connection:
 *   a node that dies holds nothing the broker keeps for it, the share group
 *   routes around it at once, and what it had in hand the devices resend.
 * - **Refusals** get a notice on `devices/{id}/errors` (retryable ones with
 *   `retryAfter`) and a PUBACK with a failure reason code; the message is never
 *   left with the broker, whose redelivery would go to a connection that may be gone.
 *
 * @example
 * const subscriber = await startExternalSubscriber(node, {
 *   url: 'mqtt://broker:1883', shareGroup: 'telemetry-ingest', clientId: 'telemetry-ingest-node-1',
 * });
 * await subscriber.close();
 */
export async function startExternalSubscriber(
  deps: Pick<TransportDeps, 'pipeline' | 'metrics'>,
  options: ExternalSubscriberOptions,
): Promise<ExternalSubscriber> {
  const filter = `$share/${options.shareGroup}/${ALL_MESSAGES_FILTER}`;
  const clientIds = connectionClientIds(options.clientId, options.connections ?? 1);
  const connections = clientIds.map((clientId) => new SubscriberConnection(deps, options, filter, clientId));
  const opened = await Promise.allSettled(connections.map((connection) => connection.start()));
  const failed = opened.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(connections.map((connection) => connection.close()));
    throw failed.reason;
  }
  return {
    filter,
    clientIds,
    async close() {
      await Promise.all(connections.map((connection) => connection.close()));
    },
  };
}

/** One broker connection of the node, reconnected with backoff whenever it is lost. */
class SubscriberConnection {
  readonly #deps: Pick<TransportDeps, 'pipeline' | 'metrics'>;
  readonly #options: ExternalSubscriberOptions;
  readonly #filter: string;
  readonly #clientId: string;
  readonly #minMs: number;
  readonly #maxMs: number;
  /** Messages this connection may have in hand at once, whatever their QoS. */
  readonly #receiveMaximum: number;
  #client: BrokerClient | undefined;
  #delayMs: number;
  #reconnectTimer: NodeJS.Timeout | undefined;
  /** Set by close(): no more messages taken, no more reconnects. */
  #closing = false;
  /** Messages handed to the pipeline and not yet answered, which close() waits for. */
  readonly #inHand = new Set<Promise<void>>();
  readonly #acks = new DeliveryAcks((topic, payload) => this.#client?.publish(topic, payload));

  constructor(
    deps: Pick<TransportDeps, 'pipeline' | 'metrics'>,
    options: ExternalSubscriberOptions,
    filter: string,
    clientId: string,
  ) {
    this.#deps = deps;
    this.#options = options;
    this.#filter = filter;
    this.#clientId = clientId;
    const { minMs, maxMs } = options.backoff ?? { minMs: 500, maxMs: 30_000 };
    this.#minMs = minMs;
    this.#maxMs = maxMs;
    this.#delayMs = minMs;
    this.#receiveMaximum = options.receiveMaximum ?? DEFAULT_RECEIVE_MAXIMUM;
  }

  /** Connects and subscribes; rejects when the broker cannot be reached or refuses (the node does not start). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    const options = this.#options;
    let client: BrokerClient | undefined;
    client = await BrokerClient.connect(
      {
        url: options.url,
        clientId: this.#clientId,
        ...(options.username === undefined ? {} : { username: options.username }),
        ...(options.password === undefined ? {} : { password: options.password }),
        receiveMaximum: this.#receiveMaximum,
        maximumPacketSize: options.maximumPacketSize ?? DEFAULT_MAXIMUM_PACKET_SIZE,
        keepaliveSeconds: options.keepaliveSeconds ?? 30,
        connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      },
      (packet) => {
        if (client !== undefined) this.#onMessage(client, packet);
      },
      (closed) => {
        if (client !== undefined) this.#lost(client, closed);
      },
    );
    // A connection that completes after the node began closing must not join the group.
    if (this.#closing) {
      client.destroy('the node is closing');
      throw new Error('the node closed while connecting');
    }
    this.#client = client;
    try {
      await client.subscribe(this.#filter, 1);
    } catch (error) {
      this.#options.logger?.warn(
        { filter: this.#filter, err: String(error) },
        'mqtt: the broker refused the shared subscription',
      );
      client.destroy('subscription refused');
      throw error;
    }
    this.#options.logger?.info({ clientId: this.#clientId }, 'mqtt: subscribed on the external broker');
  }

  #lost(client: BrokerClient, closed: BrokerClosed): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#reconnectLater(closed.reason);
  }

  #reconnectLater(reason: string): void {
    if (this.#closing) return;
    const wait = this.#delayMs;
    this.#delayMs = Math.min(this.#maxMs, this.#delayMs * 2);
    this.#options.logger?.warn(
      { clientId: this.#clientId, reason, reconnectInMs: wait },
      'mqtt: no connection to the external broker; reconnecting',
    );
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      if (this.#closing) return;
      // A failure before the broker accepted the connection brings no close event: schedule the next try here.
      this.#connect().catch((error: unknown) => {
        if (this.#client === undefined && this.#reconnectTimer === undefined) this.#reconnectLater(String(error));
      });
    }, wait);
  }

  #onMessage(client: BrokerClient, packet: IPublishPacket): void {
    if (this.#closing) return;
    const deps = this.#deps;
    const device = deviceOfMessagesTopic(packet.topic);
    const messageId = packet.qos > 0 ? packet.messageId : undefined;
    if (device === undefined) {
      deps.metrics.rejected('ERR_TOPIC_FORBIDDEN', { transport: 'mqtt' });
      if (messageId !== undefined) client.puback(messageId, REASON_TOPIC_NAME_INVALID);
      return;
    }
    const received = performance.now();
    const work = deps.pipeline.handle(packet.payload, { transport: 'mqtt', expectedDevice: device }).then((outcome) => {
      if (outcome.ok) {
        this.#delayMs = this.#minMs;
        this.#acks.stored(device, outcome.message.seq);
        if (messageId !== undefined) client.puback(messageId, REASON_SUCCESS);
        deps.metrics.acknowledged('mqtt', (performance.now() - received) / 1000);
        return;
      }
      this.#turnAway(client, device, outcome.error, outcome.seq);
      if (messageId !== undefined) client.puback(messageId, pubackReasonCode(outcome.error.code));
    });
    this.#inHand.add(work);
    // Receive Maximum bounds QoS 1 deliveries only; QoS 0 ones arrive regardless, so past the same number in
    // hand the connection stops being read until one is done, and the broker is held back by TCP.
    if (this.#inHand.size >= this.#receiveMaximum) client.pause();
    void work.finally(() => {
      this.#inHand.delete(work);
      if (this.#inHand.size < this.#receiveMaximum) client.resume();
    });
  }

  #turnAway(client: BrokerClient, device: string, failure: TelemetryError, seq: number | undefined): void {
    this.#options.logger?.debug?.({ device, code: failure.code, transport: 'mqtt' }, 'mqtt: message rejected');
    client.publish(errorsTopic(device), JSON.stringify(errorNotice(failure, seq ?? null)));
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    const client = this.#client;
    const deadline = Date.now() + (this.#options.closeTimeoutMs ?? 5_000);
    // Leave the group first, so the broker routes new messages to the other nodes.
    if (client?.open) await within(client.unsubscribe(this.#filter), deadline);
    this.#closing = true;
    clearTimeout(this.#reconnectTimer);
    await within(Promise.all(this.#inHand), deadline);
    this.#acks.flush();
    this.#client = undefined;
    if (client === undefined) return;
    // A clean DISCONNECT flushes the PUBACKs and acknowledgements written before it; cut only when it hangs.
    if (!(await within(client.disconnect(), deadline))) client.destroy('close timed out');
  }
}

/** Whether `work` settled before `deadline` (epoch ms); its failure counts as settled. */
async function within(work: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
  });
  const done = work.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}
