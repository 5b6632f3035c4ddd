import { encodeDeliveryAck } from '../../src/protocol/delivery-ack.js';
import { acksTopic } from '../../src/protocol/topics.js';

/** Where acknowledgements go: a QoS 0 publish on the broker (or to the embedded broker's subscribers). */
export type AckPublisher = (topic: string, payload: string) => void;

/**
 * Gathers the end-to-end acknowledgements (docs/PROTOCOL.md §10.3) of messages
 * stored together and publishes one per device: messages that one store write
 * accepted settle in the same turn of the event loop, so their seqs leave in
 * one `{"seqs":[…]}` on `devices/{device}/acks` just after it.
 *
 * @example
 * const acks = new DeliveryAcks((topic, payload) => client.publish(topic, payload));
 * acks.stored('sensor-1', 12);
 * acks.stored('sensor-1', 13); // one publish: {"seqs":[12,13]}
 */
export class DeliveryAcks {
  readonly #publish: AckPublisher;
  #pending = new Map<string, number[]>();
  #scheduled = false;

  constructor(publish: AckPublisher) {
    this.#publish = publish;
  }

  /** Notes that the message `seq` of `device` was stored; its acknowledgement goes out at the end of this turn. */
  stored(device: string, seq: number): void {
    const seqs = this.#pending.get(device);
    if (seqs === undefined) this.#pending.set(device, [seq]);
    else seqs.push(seq);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Publishes what is pending now. */
  flush(): void {
    this.#scheduled = false;
    const pending = this.#pending;
    this.#pending = new Map();
    for (const [device, seqs] of pending) this.#publish(acksTopic(device), encodeDeliveryAck(seqs));
  }
}
