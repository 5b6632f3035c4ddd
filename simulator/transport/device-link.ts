import type { SendOutcome as ClientSendOutcome } from '../../src/index.js';

/** A signed message a device sends, and which of its readings it carries. */
export interface OutgoingMessage {
  readonly seq: number;
  readonly jws: string;
  /** Index of its first and last reading (a message carries consecutive readings). */
  readonly first: number;
  readonly last: number;
  /**
   * A fault probe the node may not be able to read: a notice without a seq
   * while it is in flight is about it (a device has at most one in flight).
   */
  readonly probe?: boolean;
}

/**
 * What became of one attempt to send a message: the shared device client's
 * outcomes, and `sent` for MQTT QoS 0 (written, and nobody will say whether it was stored).
 */
export type SendOutcome = ClientSendOutcome | { readonly kind: 'sent' };

/** Connection-level happenings a link reports to the run. */
export interface LinkEvents {
  connected(device: string): void;
  disconnected(device: string): void;
  /** The connection was cut on purpose (`--drop-share`). */
  dropped(device: string): void;
  connectFailed(device: string, reason: string): void;
  /** A notice for a message the device no longer waits on (QoS 0), counted as a rejection. */
  lateRejection(device: string, code: string, retryable: boolean): void;
}

/** How one device reaches the nodes: its MQTT connection, or its share of the HTTP pool. */
export interface DeviceLink {
  /** Whether the device can send now. */
  readonly ready: boolean;
  /** Whether the link ever got through to a node. */
  readonly everConnected: boolean;
  /** Starts connecting (and reconnecting when lost) until close(); `onReady` is called each time it is ready. */
  open(onReady: () => void): void;
  /** Sends one message; never rejects. */
  send(message: OutgoingMessage): Promise<SendOutcome>;
  /**
   * Cuts the connection abruptly, as a network fault would (no MQTT DISCONNECT, no HTTP answer):
   * messages in flight settle as `retry` and the link reconnects by itself.
   */
  cut(): void;
  /** Disconnects and stops reconnecting; messages in flight settle as `retry`. */
  close(): Promise<void>;
}
