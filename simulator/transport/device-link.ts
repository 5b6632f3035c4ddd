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

/** What became of one attempt to send a message. */
export type SendOutcome =
  /** Stored: HTTP 200 or MQTT PUBACK without a notice. */
  | { readonly kind: 'acknowledged' }
  /** Written with MQTT QoS 0: nobody will say whether it was stored. */
  | { readonly kind: 'sent' }
  /** Refused for good; sending it again cannot help. */
  | { readonly kind: 'rejected'; readonly code: string }
  /** Not stored now, or unknown (no answer): send again later, not before `retryAfterMs`. */
  | { readonly kind: 'retry'; readonly code: string; readonly retryAfterMs?: number };

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
