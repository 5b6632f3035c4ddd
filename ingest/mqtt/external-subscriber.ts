import { connect, type IPublishPacket, type MqttClient } from 'mqtt';
import type { TelemetryError } from '../../src/errors.js';
import { ALL_MESSAGES_FILTER, deviceOfMessagesTopic, errorsTopic } from '../../src/protocol/topics.js';
import type { TransportDeps } from '../transport-deps.js';
import { errorNotice } from './error-notice.js';
import { mqttBehaviour, pubackReasonCode } from './mqtt-codes.js';

/** The structured logger the subscriber writes to (pino's shape). */
export interface SubscriberLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface ExternalSubscriberOptions {
  /** Broker URL: `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  readonly url: string;
  /** Shared subscription group: every node of one deployment uses the same one, so they split the stream. */
  readonly shareGroup: string;
  /** Stable per node and unique across nodes: the broker keeps this node's unacknowledged messages under it. */
  readonly clientId: string;
  /**
   * Connections to open, each a persistent session of its own in the share group (client ids from
   * {@link connectionClientIds}); default 1. mqtt.js hands over a connection's next message only once the
   * previous one is acknowledged, so this is how many messages the node works on at once.
   */
  readonly connections?: number;
  /** How long the broker keeps the session (and its unacknowledged messages) while the node is away. */
  readonly sessionExpirySeconds?: number;
  readonly username?: string;
  readonly password?: string;
  readonly logger?: SubscriberLogger;
  /** Reconnect delays after a lost connection or a retryable failure: doubles from minMs up to maxMs. */
  readonly backoff?: { readonly minMs: number; readonly maxMs: number };
  /** Longest close() waits for the message in hand and the UNSUBACK before it cuts the connection. */
  readonly closeTimeoutMs?: number;
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

/** One connection and its persistent session. */
interface BrokerSession {
  close(): Promise<void>;
}

// MQTT 5 PUBACK reason codes, §3.4.2.1.
const REASON_SUCCESS = 0x00;
const REASON_TOPIC_NAME_INVALID = 0x90;

type Ack = (error: Error | number, code?: number) => void;

/**
 * The client ids of a node's `connections` broker connections: the configured
 * one, then `{clientId}-2`, `{clientId}-3`, ... Raising the count keeps the
 * sessions the node already has (and what the broker holds in them).
 *
 * @example
 * connectionClientIds('ingest-1', 3); // ['ingest-1', 'ingest-1-2', 'ingest-1-3']
 */
function connectionClientIds(clientId: string, connections: number): string[] {
  return Array.from({ length: connections }, (_, n) => (n === 0 ? clientId : `${clientId}-${n + 1}`));
}

/**
 * Subscribes a node to `$share/{group}/devices/+/messages` on an external
 * broker at QoS 1, over `connections` connections that each join the share
 * group with a persistent session of their own, and hands every message to
 * the node's pipeline, with the device taken from the topic. The PUBACK goes
 * to the broker only once the store accepted the readings (mqtt.js
 * `customHandleAcks`, which holds the PUBACK until its callback runs, and
 * reads the connection's next packet only after it). Rejected messages are
 * PUBACKed with a failure reason code and a notice goes to
 * `devices/{id}/errors`. On a retryable failure the node withholds the
 * PUBACK, drops that connection and reconnects it with backoff to the same
 * persistent session, so the broker redelivers (DUP) what was not
 * acknowledged [MQTT-4.4.0-1].
 *
 * @example
 * const subscriber = await startExternalSubscriber(node, {
 *   url: 'mqtt://broker:1883', shareGroup: 'telemetry-ingest', clientId: 'telemetry-ingest-node-1',
 *   connections: 16,
 * });
 * await subscriber.close();
 */
export async function startExternalSubscriber(
  deps: Pick<TransportDeps, 'pipeline' | 'metrics'>,
  options: ExternalSubscriberOptions,
): Promise<ExternalSubscriber> {
  const filter = `$share/${options.shareGroup}/${ALL_MESSAGES_FILTER}`;
  const clientIds = connectionClientIds(options.clientId, options.connections ?? 1);
  const opened = await Promise.allSettled(clientIds.map((clientId) => openSession(deps, options, filter, clientId)));
  const sessions = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = opened.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(sessions.map((session) => session.close()));
    throw failed.reason;
  }
  return {
    filter,
    clientIds,
    async close() {
      await Promise.all(sessions.map((session) => session.close()));
    },
  };
}

/**
 * One connection's settings and state, shared by the functions below: what the
 * closures of a single openSession held, as one object, so each step is named.
 */
interface Session {
  readonly deps: Pick<TransportDeps, 'pipeline' | 'metrics'>;
  readonly options: ExternalSubscriberOptions;
  readonly filter: string;
  readonly clientId: string;
  readonly log: SubscriberLogger | undefined;
  readonly minMs: number;
  readonly maxMs: number;
  /** The connection in use; undefined while waiting to reconnect, and after close. */
  current: MqttClient | undefined;
  /** The next reconnect delay: doubles per reconnect, back to minMs once a message is stored. */
  delayMs: number;
  reconnectTimer: NodeJS.Timeout | undefined;
  /** Set by close() (or a failed first connect): no more messages taken, no more reconnects. */
  closing: boolean;
  /** The message being worked on, which close() waits for. */
  inHand: Promise<void>;
}

/** Opens one connection as `clientId`, resuming its session, and subscribes it to `filter`. */
async function openSession(
  deps: Pick<TransportDeps, 'pipeline' | 'metrics'>,
  options: ExternalSubscriberOptions,
  filter: string,
  clientId: string,
): Promise<BrokerSession> {
  const { minMs, maxMs } = options.backoff ?? { minMs: 500, maxMs: 30_000 };
  const session: Session = {
    deps,
    options,
    filter,
    clientId,
    log: options.logger,
    minMs,
    maxMs,
    current: undefined,
    delayMs: minMs,
    reconnectTimer: undefined,
    closing: false,
    inHand: Promise.resolve(),
  };
  try {
    await connectOnce(session);
  } catch (error) {
    session.closing = true;
    clearTimeout(session.reconnectTimer);
    session.current?.end(true);
    throw error;
  }
  return { close: () => closeSession(session) };
}

function live(session: Session, client: MqttClient): boolean {
  return !session.closing && session.current === client && client.connected;
}

/** Acknowledges on the connection the message came in on, never on a later one (packet ids are per session). */
function acknowledge(session: Session, client: MqttClient, ack: Ack, reason: number): void {
  if (session.current === client && client.connected) ack(reason);
}

function dropConnection(session: Session, client: MqttClient, retryAfterSeconds = 0): void {
  if (session.current !== client) return;
  session.current = undefined;
  client.end(true);
  if (session.closing) return;
  const { maxMs, delayMs } = session;
  const wait = Math.min(maxMs, Math.max(delayMs, retryAfterSeconds * 1000));
  session.delayMs = Math.min(maxMs, delayMs * 2);
  session.log?.info({ clientId: session.clientId, reconnectInMs: wait }, 'mqtt: reconnecting to the broker later');
  session.reconnectTimer = setTimeout(() => {
    session.reconnectTimer = undefined;
    connectOnce(session).catch(() => undefined);
  }, wait);
}

function turnAway(
  session: Session,
  client: MqttClient,
  ack: Ack,
  device: string,
  failure: TelemetryError,
  seq?: number,
): void {
  session.log?.info({ device, code: failure.code }, 'mqtt: message rejected');
  if (client.connected)
    client.publish(errorsTopic(device), JSON.stringify(errorNotice(failure, seq ?? null)), { qos: 0 });
  acknowledge(session, client, ack, pubackReasonCode(failure.code));
}

function onMessage(session: Session, client: MqttClient, topic: string, payload: Buffer, ack: Ack): void {
  // Not acknowledged: the message stays in this node's session and comes back when it reconnects.
  if (!live(session, client)) return;
  const device = deviceOfMessagesTopic(topic);
  const { deps, log } = session;
  if (device === undefined) {
    deps.metrics.rejected('ERR_TOPIC_FORBIDDEN', { transport: 'mqtt' });
    ack(REASON_TOPIC_NAME_INVALID);
    return;
  }
  session.inHand = deps.pipeline.handle(payload, { transport: 'mqtt', expectedDevice: device }).then((outcome) => {
    if (outcome.ok) {
      session.delayMs = session.minMs;
      return acknowledge(session, client, ack, REASON_SUCCESS);
    }
    const failure = outcome.error;
    if (mqttBehaviour(failure.code) !== 'retry') return turnAway(session, client, ack, device, failure, outcome.seq);
    log?.warn({ device, code: failure.code }, 'mqtt: not acknowledged; reconnecting so the broker redelivers');
    dropConnection(session, client, failure.retryAfter());
  });
}

function connectOnce(session: Session): Promise<void> {
  const { options, clientId, filter, log } = session;
  return new Promise<void>((resolve, reject) => {
    const client: MqttClient = connect(options.url, {
      clientId,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: options.sessionExpirySeconds ?? 3600 },
      // Reconnecting is ours: each connection gets a fresh client, so no stale PUBACK crosses sessions.
      reconnectPeriod: 0,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
      customHandleAcks: (topic: string, payload: Buffer, _packet: IPublishPacket, ack: Ack) =>
        onMessage(session, client, topic, payload, ack),
    });
    session.current = client;
    client.on('error', (error) => {
      log?.warn({ clientId, err: error.message }, 'mqtt: broker connection failed');
      reject(error);
    });
    client.on('close', () => dropConnection(session, client));
    client.on('connect', (connack) => {
      // A connection that completes after the node began closing (or replaced it) must not join the group.
      if (session.closing || session.current !== client) {
        client.end(true);
        return reject(new Error('the node closed while connecting'));
      }
      log?.info({ clientId, sessionPresent: connack.sessionPresent }, 'mqtt: connected');
      // Subscribing again on a resumed session is harmless; on a lost one it is what restores the stream.
      client.subscribe(filter, { qos: 1 }, (error, granted) => {
        const code = granted?.[0]?.qos;
        if (error === null && code === 1) return resolve();
        log?.warn({ filter, code }, 'mqtt: the broker refused the shared subscription');
        reject(error ?? new Error(`the broker refused ${filter} (reason code ${code})`));
        dropConnection(session, client);
      });
    });
  });
}

async function closeSession(session: Session): Promise<void> {
  if (session.closing) return;
  const client = session.current;
  const deadline = Date.now() + (session.options.closeTimeoutMs ?? 5_000);
  // Leave the group first, so the broker routes new messages to the other nodes, not to this session.
  if (client?.connected) await within(client.unsubscribeAsync(session.filter), deadline);
  session.closing = true;
  clearTimeout(session.reconnectTimer);
  await within(session.inHand, deadline);
  session.current = undefined;
  if (client === undefined) return;
  // Still connecting: a graceful end would return at once and leave the socket to finish connecting, join the
  // share group and hold messages it never acknowledges. End it outright.
  if (!client.connected) {
    client.end(true);
    return;
  }
  // A clean DISCONNECT flushes the PUBACKs written before it; force only when something still hangs.
  if (!(await within(client.endAsync(false), deadline))) await client.endAsync(true);
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
