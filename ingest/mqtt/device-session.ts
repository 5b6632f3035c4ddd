import type { Aedes, Client } from 'aedes';
import type { ErrorNotice } from '../../src/protocol/topics.js';
import { DeliveryAcks } from './delivery-acks.js';
import { noticePacket } from './error-notice.js';

/** Longest a closing connection waits for the device to close its side before it is destroyed. */
export const CLOSE_GRACE_MS = 2_000;

/** Longest delay setTimeout honours; longer token lifetimes are waited for in steps. */
const MAX_TIMER_MS = 2_147_483_647;

type AedesCallback = (error?: Error | null) => void;

/**
 * One authenticated device connection on the embedded broker: which device it
 * is, when its token expires, how many messages in a row it had rejected, and
 * how it closes. Lives exactly as long as the connection; nothing is shared
 * between connections.
 */
export class DeviceSession {
  readonly device: string;
  readonly client: Client;
  readonly #broker: Aedes;
  readonly #held: AedesCallback[] = [];
  #consecutiveRejections = 0;
  #expiry: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;
  /** Set once the device subscribed to its acks topic: from then on each stored message is acknowledged there too. */
  #acks: DeliveryAcks | undefined;

  constructor(broker: Aedes, client: Client, device: string) {
    this.#broker = broker;
    this.client = client;
    this.device = device;
    client.conn.once('close', () => this.#onClosed());
  }

  /** Whether the node has begun closing this connection: nothing more is acknowledged on it. */
  get closing(): boolean {
    return this.#closing !== undefined || this.#closed;
  }

  /**
   * Calls `onExpiry` when `expiresAt` comes by the node's clock (`now`, read
   * once: the wait is then timed in real time), unless the connection closed first.
   */
  expireAt(expiresAt: number, now: number, onExpiry: () => void): void {
    let left = expiresAt - now;
    const arm = (): void => {
      if (left <= 0) {
        onExpiry();
        return;
      }
      const step = Math.min(left, MAX_TIMER_MS);
      left -= step;
      this.#expiry = setTimeout(arm, step);
      this.#expiry.unref();
    };
    arm();
  }

  /** Counts an accepted message; the run of rejections starts again. */
  accepted(): void {
    this.#consecutiveRejections = 0;
  }

  /** Counts a rejected message; returns how many in a row this connection has had rejected. */
  rejected(): number {
    this.#consecutiveRejections++;
    return this.#consecutiveRejections;
  }

  /**
   * Keeps an aedes callback from running until the connection is gone, then
   * fails it: on a connection the node is closing nothing more is acknowledged,
   * and failing it earlier would make aedes destroy the socket at once.
   */
  hold(callback: AedesCallback): void {
    if (this.#closed) callback(new Error('connection closed'));
    else this.#held.push(callback);
  }

  /** Publishes `notice` on the device's errors topic; resolves once it is written to the connection. */
  notify(notice: ErrorNotice): Promise<void> {
    return new Promise((resolve) => {
      this.#broker.publish(noticePacket(this.device, notice), () => resolve());
    });
  }

  /**
   * The device subscribed to `devices/{id}/acks`: from now on every message of
   * it that is stored is also acknowledged there (docs/PROTOCOL.md §10.3), as a
   * node on an external broker does, so a device can use one code path for both.
   */
  wantAcks(): void {
    this.#acks ??= new DeliveryAcks((topic, payload) =>
      this.#broker.publish(
        { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false },
        () => undefined,
      ),
    );
  }

  /** A message of this device was stored: acknowledge it on the acks topic if the device asked for that. */
  stored(seq: number): void {
    this.#acks?.stored(this.device, seq);
  }

  /**
   * Closes the connection, optionally after a notice: stops reading packets,
   * flushes what was written (the notice, PUBACKs), sends FIN and waits for the
   * device to close its side, destroying the socket after {@link CLOSE_GRACE_MS}.
   */
  close(notice?: ErrorNotice): Promise<void> {
    this.#closing ??= this.#close(notice);
    return this.#closing;
  }

  async #close(notice: ErrorNotice | undefined): Promise<void> {
    const conn = this.client.conn;
    if (this.#closed || conn.destroyed) return;
    const closed = new Promise<void>((resolve) => conn.once('close', () => resolve()));
    if (notice !== undefined) await this.notify(notice);
    // aedes parses packets from its 'readable' listener; without it no further
    // packet is handled. Reading on and discarding keeps the receive queue empty,
    // so closing sends FIN after our data rather than a reset that could discard it.
    conn.removeAllListeners('readable');
    const discard = (): void => {
      while (conn.read() !== null);
    };
    conn.on('readable', discard);
    // A connection paused by backpressure may already hold a full buffer, which
    // raises no further 'readable' event until something reads from it.
    discard();
    conn.end();
    const timer = setTimeout(() => conn.destroy(), CLOSE_GRACE_MS);
    await closed;
    clearTimeout(timer);
  }

  #onClosed(): void {
    this.#closed = true;
    clearTimeout(this.#expiry);
    const error = new Error('connection closed');
    for (const callback of this.#held.splice(0)) callback(error);
  }
}
