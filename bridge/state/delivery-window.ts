import { createHash } from 'node:crypto';

/**
 * One MQTT delivery as the bridge remembers it: the packet id the broker sent
 * it with, and a digest of its topic and payload. A broker that delivers a
 * message again after a reconnect uses the same packet id [MQTT-4.4.0-1] and
 * the same topic and payload, so the pair finds it; the packet id alone would
 * not, since the broker reuses it once the message is acknowledged.
 */
export interface DeliveryMark {
  readonly packetId: number;
  /** SHA-256 of topic, a NUL and payload, base64url, first 128 bits. */
  readonly digest: string;
}

/** The mark of a QoS 1 PUBLISH. A topic never holds U+0000 [MQTT-4.7.3-2], so NUL cannot shift topic into payload. */
export function deliveryMark(packetId: number, topic: string, payload: Uint8Array): DeliveryMark {
  const digest = createHash('sha256').update(topic).update('\0').update(payload).digest('base64url').slice(0, 22);
  return { packetId, digest };
}

/**
 * The last {@link DeliveryWindow.capacity} MQTT messages written to the
 * journal, at most one per packet id (a newer message with the same id
 * replaces the older, which the broker must have had acknowledged to reuse
 * the id). Bounded by count, and so in bytes: each entry is a packet id and a
 * 22-character digest. The journal keeps it on disk; this is its memory.
 */
export class DeliveryWindow {
  readonly capacity: number;
  /** Packet id → digest, oldest first. */
  readonly #marks = new Map<number, string>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#marks.size;
  }

  /** Whether the window holds this very mark (the same packet id with the same digest). */
  holds(mark: DeliveryMark): boolean {
    return this.#marks.get(mark.packetId) === mark.digest;
  }

  /** Remembers `mark` as the newest, replacing what its packet id held and forgetting the oldest beyond capacity. */
  add(mark: DeliveryMark): void {
    this.#marks.delete(mark.packetId);
    this.#marks.set(mark.packetId, mark.digest);
    for (const oldest of this.#marks.keys()) {
      if (this.#marks.size <= this.capacity) break;
      this.#marks.delete(oldest);
    }
  }

  forget(packetId: number): void {
    this.#marks.delete(packetId);
  }

  /** The marks held, oldest first. */
  *marks(): Generator<DeliveryMark> {
    for (const [packetId, digest] of this.#marks) yield { packetId, digest };
  }
}
