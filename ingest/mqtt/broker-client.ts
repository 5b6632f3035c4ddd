import type { Duplex } from 'node:stream';
import { generate, type IPublishPacket, type Packet, parser } from 'mqtt-packet';
import { openBrokerStream } from './broker-stream.js';

export interface BrokerClientOptions {
  /** Broker URL: `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  readonly url: string;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  /** MQTT 5 Receive Maximum: how many QoS 1 messages the broker may have sent and not yet seen acknowledged. */
  readonly receiveMaximum: number;
  /** MQTT 5 Maximum Packet Size: the broker sends nothing larger (it drops such a message for this client). */
  readonly maximumPacketSize: number;
  /** Keep-alive in seconds: a PINGREQ goes out this often, and a connection silent for 1.5 times it is cut. */
  readonly keepaliveSeconds: number;
  /** Longest the TCP/TLS/WebSocket connection plus CONNACK may take. */
  readonly connectTimeoutMs: number;
}

/** How the connection ended: a DISCONNECT from either side, or a lost or cut socket. */
export interface BrokerClosed {
  readonly reason: string;
}

/** MQTT 5 reason codes the client reads (§2.4): success and the first failure code. */
const SUCCESS = 0x00;
const FIRST_FAILURE = 0x80;

/** A refusal by the broker (CONNACK, SUBACK) with its MQTT 5 reason code. */
class BrokerRefusal extends Error {
  readonly reasonCode: number;
  constructor(what: string, reasonCode: number) {
    super(`the broker refused ${what} (reason code 0x${reasonCode.toString(16).padStart(2, '0')})`);
    this.name = 'BrokerRefusal';
    this.reasonCode = reasonCode;
  }
}

/**
 * One MQTT 5 connection to an external broker, on `mqtt-packet` (the codec
 * mqtt.js and aedes use). It exists because mqtt.js reads a connection's next
 * packet only once the previous QoS 1 message is acknowledged, which would
 * make a node work on one message per connection at a time; here every
 * PUBLISH is handed over as it arrives, up to the Receive Maximum the client
 * announces, and the caller acknowledges each whenever it is done, in any
 * order [MQTT-4.6.0-3 allows any order for PUBACKs of different packets].
 *
 * The session is clean and ends with the connection (Clean Start, Session
 * Expiry 0): the broker keeps nothing for this client once it is gone.
 *
 * @example
 * const client = await BrokerClient.connect({ url, clientId, receiveMaximum: 256, ... }, onPublish, onClose);
 * await client.subscribe('$share/g/devices/+/messages', 1);
 * client.puback(packet.messageId, 0);
 */
export class BrokerClient {
  readonly #stream: Duplex;
  readonly #options: BrokerClientOptions;
  readonly #waiting = new Map<number, (packet: Packet) => void>();
  #nextId = 0;
  #lastReceived = Date.now();
  #keepalive: NodeJS.Timeout | undefined;
  #closed: BrokerClosed | undefined;
  #paused = false;
  /** PUBLISH packets parsed from what was already read when the client paused, handed over on resume. */
  readonly #held: IPublishPacket[] = [];
  readonly #whenClosed: Promise<BrokerClosed>;
  #onPublish: (packet: IPublishPacket) => void = () => undefined;

  private constructor(stream: Duplex, options: BrokerClientOptions, onClose: (closed: BrokerClosed) => void) {
    this.#stream = stream;
    this.#options = options;
    this.#whenClosed = new Promise<BrokerClosed>((resolve) => {
      const end = (reason: string): void => {
        if (this.#closed !== undefined) return;
        this.#closed = { reason };
        clearInterval(this.#keepalive);
        this.#stream.destroy();
        for (const waiter of this.#waiting.values()) waiter({ cmd: 'disconnect', reasonCode: 0x8b });
        this.#waiting.clear();
        resolve(this.#closed);
        onClose(this.#closed);
      };
      stream.on('error', (error) => end(error.message));
      stream.on('close', () => end('connection closed'));
      this.#endWith = end;
    });
  }

  #endWith: (reason: string) => void = () => undefined;

  /**
   * Connects, sends CONNECT and resolves once the broker accepted it (CONNACK
   * reason code 0); rejects with a {@link BrokerRefusal} or the socket's error.
   * `onPublish` gets every PUBLISH from then on; `onClose` is called once, when
   * the connection ends for any reason after it was accepted.
   */
  static async connect(
    options: BrokerClientOptions,
    onPublish: (packet: IPublishPacket) => void,
    onClose: (closed: BrokerClosed) => void,
  ): Promise<BrokerClient> {
    const stream = await openBrokerStream(options.url, options.connectTimeoutMs);
    let accepted = false;
    const client = new BrokerClient(stream, options, (closed) => {
      if (accepted) onClose(closed);
    });
    const connack = await client.#handshake();
    if ((connack.reasonCode ?? SUCCESS) !== SUCCESS) {
      client.#endWith('connect refused');
      throw new BrokerRefusal('the connection', connack.reasonCode ?? 0);
    }
    accepted = true;
    client.#onPublish = onPublish;
    return client;
  }

  #handshake(): Promise<Packet & { reasonCode?: number }> {
    const { clientId, username, password, keepaliveSeconds, receiveMaximum, maximumPacketSize, connectTimeoutMs } =
      this.#options;
    const packets = parser({ protocolVersion: 5 });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#endWith('no CONNACK');
        reject(new Error(`no CONNACK within ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      this.#whenClosed.then((closed) => {
        clearTimeout(timer);
        reject(new Error(`the broker closed the connection before CONNACK: ${closed.reason}`));
      });
      packets.on('error', (error) => this.#endWith(`malformed packet from the broker: ${error.message}`));
      packets.on('packet', (packet: Packet) => {
        this.#lastReceived = Date.now();
        if (packet.cmd === 'connack') {
          clearTimeout(timer);
          this.#startKeepalive();
          resolve(packet);
        } else this.#dispatch(packet);
      });
      this.#stream.on('data', (chunk: Buffer) => packets.parse(chunk));
      this.#write({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clientId,
        clean: true,
        keepalive: keepaliveSeconds,
        ...(username === undefined ? {} : { username }),
        ...(password === undefined ? {} : { password: Buffer.from(password) }),
        properties: { sessionExpiryInterval: 0, receiveMaximum, maximumPacketSize },
      });
    });
  }

  #startKeepalive(): void {
    const periodMs = this.#options.keepaliveSeconds * 1000;
    if (periodMs <= 0) return;
    this.#keepalive = setInterval(() => {
      if (Date.now() - this.#lastReceived > periodMs * 1.5) this.#endWith('keep-alive timeout');
      else this.#write({ cmd: 'pingreq' });
    }, periodMs);
    this.#keepalive.unref();
  }

  #dispatch(packet: Packet): void {
    if (packet.cmd === 'publish') {
      if (this.#paused) this.#held.push(packet);
      else this.#onPublish(packet);
      return;
    }
    if (packet.cmd === 'disconnect') {
      this.#endWith(`the broker disconnected (${packet.reasonCode ?? 0})`);
      return;
    }
    const id = packet.messageId;
    if (id === undefined) return;
    const waiter = this.#waiting.get(id);
    this.#waiting.delete(id);
    waiter?.(packet);
  }

  #write(packet: Packet): void {
    if (this.#closed !== undefined) return;
    this.#stream.write(generate(packet, { protocolVersion: 5 }));
  }

  #request(packet: Packet & { messageId: number }): Promise<Packet> {
    return new Promise((resolve) => {
      this.#waiting.set(packet.messageId, resolve);
      this.#write(packet);
    });
  }

  #newId(): number {
    this.#nextId = (this.#nextId % 65_535) + 1;
    return this.#nextId;
  }

  /** Whether the connection is still open. */
  get open(): boolean {
    return this.#closed === undefined;
  }

  /** Subscribes to `filter`; resolves once the broker granted `qos`, rejects with its refusal otherwise. */
  async subscribe(filter: string, qos: 0 | 1): Promise<void> {
    const answer = await this.#request({
      cmd: 'subscribe',
      messageId: this.#newId(),
      subscriptions: [{ topic: filter, qos, nl: false, rap: false, rh: 0 }],
    });
    const granted = answer.cmd === 'suback' ? answer.granted[0] : undefined;
    const code = typeof granted === 'number' ? granted : FIRST_FAILURE;
    if (code !== qos) throw new BrokerRefusal(`the subscription to ${filter}`, code);
  }

  /** Unsubscribes from `filter`; resolves on UNSUBACK (or when the connection ends). */
  async unsubscribe(filter: string): Promise<void> {
    await this.#request({ cmd: 'unsubscribe', messageId: this.#newId(), unsubscriptions: [filter] });
  }

  /** Publishes at QoS 0: nothing to wait for, and nothing kept if the connection is lost. */
  publish(topic: string, payload: string | Buffer): void {
    this.#write({ cmd: 'publish', topic, payload, qos: 0, dup: false, retain: false });
  }

  /** Acknowledges the QoS 1 PUBLISH `messageId` with an MQTT 5 reason code (0 = success). */
  puback(messageId: number, reasonCode: number): void {
    this.#write({ cmd: 'puback', messageId, reasonCode });
  }

  /**
   * Stops reading from the connection (TCP then holds the broker back) until {@link resume}: how a
   * subscriber bounds what it holds of QoS 0 messages, which no Receive Maximum limits. PUBLISH packets
   * already read (at most one socket read's worth) wait in the client and come first on resume.
   */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#stream.pause();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    // Silence while paused was ours, not the broker's: the keep-alive counts from now.
    this.#lastReceived = Date.now();
    // What one read already brought in goes first; handing it over may pause the client again.
    while (!this.#paused && this.#held.length > 0) this.#onPublish(this.#held.shift() as IPublishPacket);
    if (!this.#paused) this.#stream.resume();
  }

  /** Sends DISCONNECT and ends the connection once what was written before it is flushed. */
  async disconnect(): Promise<void> {
    if (this.#closed !== undefined) return;
    this.#write({ cmd: 'disconnect', reasonCode: SUCCESS });
    this.#stream.end();
    await this.#whenClosed;
  }

  /** Ends the connection at once, without DISCONNECT. */
  destroy(reason = 'destroyed'): void {
    this.#endWith(reason);
  }

  /** Settles when the connection has ended. */
  get closed(): Promise<BrokerClosed> {
    return this.#whenClosed;
  }
}
