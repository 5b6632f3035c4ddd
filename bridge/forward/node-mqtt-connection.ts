import { connect, type MqttClient } from 'mqtt';
import {
  type ConnectionTokenSchedule,
  connectionTokenSchedule,
  type DeviceSigner,
  type ErrorNotice,
  errorsTopic,
  messagesTopic,
  outcomeOfNotice,
  parseErrorNotice,
  type SendOutcome,
  signConnectionToken,
} from '../../src/index.js';

/** What became of one message published to the node: whether the node said anything about it, and the outcome. */
export interface MqttAnswer {
  readonly answered: boolean;
  readonly outcome: SendOutcome;
}

/** How a device's connection to the node's embedded broker is made. */
export interface NodeMqttConnectionOptions {
  readonly url: string;
  readonly signer: DeviceSigner;
  readonly tokenTtlSeconds: number;
  readonly audience: string;
  /** How long a message waits for its PUBACK (and a CONNECT for its CONNACK) before it counts as unanswered. */
  readonly answerTimeoutMs: number;
  readonly now: () => number;
  /** Called once when the connection is gone, whoever closed it. */
  readonly onClosed: (connection: NodeMqttConnection) => void;
}

/** A CONNECT the node refused or that never got an answer: what it means for the messages waiting on it. */
export interface ConnectRefusal {
  readonly refused: true;
  readonly answered: boolean;
  readonly outcome: SendOutcome;
}

/** Notices about the connection rather than a message: the node closes it after them (PROTOCOL.md §10.1, §11). */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ERR_TOKEN_EXPIRED',
  'ERR_TOKEN_INVALID',
  'ERR_TOPIC_FORBIDDEN',
]);

/**
 * What a refused CONNECT means for the bridge's messages (PROTOCOL.md §4.3, §10.1). The bridge signs tokens
 * for registry keys with user name = `sub`, so return code 5 can only be ERR_UNKNOWN_KEY (a new key the
 * nodes have not loaded yet, or a key removed): reported as that code, so the forwarder's new-key grace
 * applies as it does over HTTP. Every other refusal (3: draining or overloaded; 4: a token the node does
 * not take, clocks too far apart or a key replaced) is retried; the messages were never judged.
 */
function connackOutcome(returnCode: number): SendOutcome {
  return returnCode === 5
    ? { kind: 'rejected', code: 'ERR_UNKNOWN_KEY' }
    : { kind: 'retry', code: `MQTT_CONNACK_${returnCode}` };
}

const errorCode = (error: unknown, fallback: string): string => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : fallback;
};

/** A message published and not yet settled. */
interface InFlight {
  readonly settle: (answer: MqttAnswer) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * One bridged device's MQTT 3.1.1 connection to a node's embedded broker
 * (PROTOCOL.md §10.1): client id and user name = the device id, password = a
 * connection token the device's key signs (§4.3), scheduled by the shared
 * device client. Messages go QoS 1 to `devices/{id}/messages`; on the embedded
 * broker a PUBACK means stored. A notice on `devices/{id}/errors` that names a
 * message's seq decides it; a notice without a seq (a message the node could
 * not verify) is taken as about the message whose PUBACK comes next, which on
 * the node's wire follows it directly. A PUBACK the node withholds (a `retry`
 * code, a stalled node, a store down) leaves the message unanswered: after
 * the answer timeout, or when the connection ends, it is a retry, never delivered.
 */
export class NodeMqttConnection {
  readonly device: string;
  readonly schedule: ConnectionTokenSchedule;
  readonly #o: NodeMqttConnectionOptions;
  readonly #client: MqttClient;
  readonly #inFlight = new Map<number, InFlight>();
  readonly #notices = new Map<number, ErrorNotice>();
  /** A rejection without a seq, for the message whose PUBACK comes next. */
  #unmatched: ErrorNotice | undefined;
  /** The last notice about the connection or a retry: what the messages still in flight when it ends are told. */
  #lastRetry: ErrorNotice | undefined;
  #closed = false;
  #emptied: (() => void) | undefined;

  private constructor(options: NodeMqttConnectionOptions, schedule: ConnectionTokenSchedule, client: MqttClient) {
    this.#o = options;
    this.device = options.signer.device;
    this.schedule = schedule;
    this.#client = client;
    client.on('message', (topic, payload) => this.#notice(topic, payload));
    client.on('close', () => this.#ended());
  }

  /** Connects with a fresh token and subscribes to the errors topic; a refusal says what it means for the messages. */
  static async open(options: NodeMqttConnectionOptions): Promise<NodeMqttConnection | ConnectRefusal> {
    const { signer, tokenTtlSeconds, audience } = options;
    const schedule = connectionTokenSchedule(options.now(), tokenTtlSeconds);
    const password = await signConnectionToken(signer, {
      now: schedule.issuedAt,
      lifetimeSeconds: tokenTtlSeconds,
      audience,
    });
    const client: MqttClient = connect(options.url, {
      protocolVersion: 4,
      clientId: signer.device,
      username: signer.device,
      password,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: options.answerTimeoutMs,
      keepalive: 60,
    });
    let failed: (error: unknown) => void = () => undefined;
    let closed: () => void = () => undefined;
    // mqtt.js throws an 'error' nobody listens to; errors that matter end in 'close' or fail the CONNECT below.
    client.on('error', () => undefined);
    const ready = await new Promise<ConnectRefusal | undefined>((resolve) => {
      const fail = (error: unknown) => {
        const code = (error as { code?: unknown } | null)?.code;
        resolve(
          typeof code === 'number'
            ? { refused: true, answered: true, outcome: connackOutcome(code) }
            : {
                refused: true,
                answered: false,
                outcome: { kind: 'retry', code: errorCode(error, 'MQTT_CONNECT_FAILED') },
              },
        );
      };
      failed = fail;
      closed = () => fail({ code: 'MQTT_CONNECTION_CLOSED' });
      client.once('error', failed);
      client.once('close', closed);
      client.once('connect', () => {
        client.subscribeAsync(errorsTopic(signer.device), { qos: 0 }).then(() => resolve(undefined), fail);
      });
    });
    client.removeListener('error', failed);
    client.removeListener('close', closed);
    if (ready !== undefined) {
      await client.endAsync(true).catch(() => undefined);
      return ready;
    }
    const connection = new NodeMqttConnection(options, schedule, client);
    if (client.connected === false) connection.#ended();
    return connection;
  }

  /** Messages published and not settled. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Publishes one signed message at QoS 1 and resolves once it is settled (see the class). */
  publish(seq: number, jws: string): Promise<MqttAnswer> {
    if (this.#closed) return Promise.resolve(this.#lostAnswer(seq));
    return new Promise((settle) => {
      const timer = setTimeout(() => {
        this.#settle(seq, { answered: false, outcome: { kind: 'retry', code: 'MQTT_PUBACK_TIMEOUT' } });
        // A node that withholds one PUBACK this long is stalled: start again on a new connection.
        void this.close();
      }, this.#o.answerTimeoutMs);
      this.#inFlight.set(seq, { settle, timer });
      this.#client.publish(messagesTopic(this.device), jws, { qos: 1 }, (error) => {
        // mqtt.js passes null or undefined on success, depending on the path.
        // An error here means the connection ended before the PUBACK: the message was not answered.
        if (error !== undefined && error !== null) this.#settle(seq, this.#lostAnswer(seq));
        else this.#settle(seq, this.#pubackAnswer(seq));
      });
    });
  }

  /** Resolves when nothing is in flight, or after `ms`, whichever is first. */
  async drain(ms: number): Promise<void> {
    if (this.#inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        this.#emptied = resolve;
      }),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
    this.#emptied = undefined;
  }

  /** Closes the connection; what is still in flight is a retry. */
  async close(): Promise<void> {
    this.#ended();
    await this.#client.endAsync(true).catch(() => undefined);
  }

  #pubackAnswer(seq: number): MqttAnswer {
    const notice = this.#notices.get(seq) ?? this.#unmatched;
    this.#unmatched = undefined;
    if (notice === undefined) return { answered: true, outcome: { kind: 'acknowledged' } };
    return { answered: true, outcome: outcomeOfNotice(notice) };
  }

  /** A message the connection ended under: its notice decides, else it is a retry after the connection's Retry-After. */
  #lostAnswer(seq: number): MqttAnswer {
    const notice = this.#notices.get(seq);
    if (notice !== undefined) return { answered: true, outcome: outcomeOfNotice(notice) };
    const last = this.#lastRetry;
    const code = last?.code ?? 'MQTT_CONNECTION_LOST';
    const outcome: SendOutcome =
      last?.retryAfter === undefined
        ? { kind: 'retry', code }
        : { kind: 'retry', code, retryAfterMs: last.retryAfter * 1000 };
    return { answered: false, outcome };
  }

  #settle(seq: number, answer: MqttAnswer): void {
    const entry = this.#inFlight.get(seq);
    if (entry === undefined) return;
    this.#inFlight.delete(seq);
    this.#notices.delete(seq);
    clearTimeout(entry.timer);
    entry.settle(answer);
    if (this.#inFlight.size === 0) this.#emptied?.();
  }

  #notice(topic: string, payload: Buffer): void {
    if (topic !== errorsTopic(this.device)) return;
    const notice = parseErrorNotice(payload);
    if (notice === undefined) return;
    if (notice.retryable || CONNECTION_CODES.has(notice.code)) this.#lastRetry = notice;
    if (notice.seq !== null) {
      if (this.#inFlight.has(notice.seq)) this.#notices.set(notice.seq, notice);
    } else if (!notice.retryable && !CONNECTION_CODES.has(notice.code)) this.#unmatched = notice;
  }

  /** The connection is gone: settles what is in flight (once) and tells the owner. */
  #ended(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const seq of [...this.#inFlight.keys()]) this.#settle(seq, this.#lostAnswer(seq));
    this.#o.onClosed(this);
  }
}
