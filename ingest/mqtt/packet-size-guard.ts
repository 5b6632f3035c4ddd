/** Bytes a PUBLISH or CONNECT needs beyond the message itself: topic, packet id, client id, user name, token. */
export const MQTT_PACKET_OVERHEAD_BYTES = 4096;

/**
 * Watches the bytes of an MQTT stream and reports the first packet whose
 * declared Remaining Length exceeds a cap. mqtt-packet (which aedes parses
 * with) has no such cap: it buffers a packet until all of its declared length
 * (up to 256 MiB, MQTT 3.1.1 §2.2.3) has arrived, so the cap is kept here,
 * before the bytes are parsed.
 */
export class MqttPacketSizeGuard {
  readonly #maxRemainingLength: number;
  #state: 'header' | 'length' | 'body' = 'header';
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #bodyLeft = 0;

  constructor(maxRemainingLength: number) {
    this.#maxRemainingLength = maxRemainingLength;
  }

  /**
   * Scans the next chunk of the stream. Returns the declared length of the
   * first packet over the cap (or Infinity for a malformed length), else undefined.
   */
  feed(chunk: Uint8Array): number | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === 'body') {
        const skip = Math.min(this.#bodyLeft, chunk.length - i);
        this.#bodyLeft -= skip;
        i += skip;
        if (this.#bodyLeft === 0) this.#state = 'header';
        continue;
      }
      const byte = chunk[i++] ?? 0;
      if (this.#state === 'header') {
        this.#state = 'length';
        this.#length = 0;
        this.#multiplier = 1;
        this.#lengthBytes = 0;
        continue;
      }
      // MQTT 3.1.1 §2.2.3: seven bits per byte, at most four bytes.
      this.#length += (byte & 0x7f) * this.#multiplier;
      this.#multiplier *= 128;
      this.#lengthBytes++;
      if (this.#length > this.#maxRemainingLength) return this.#length;
      if ((byte & 0x80) === 0) {
        this.#bodyLeft = this.#length;
        this.#state = this.#length === 0 ? 'header' : 'body';
      } else if (this.#lengthBytes === 4) {
        return Number.POSITIVE_INFINITY;
      }
    }
    return undefined;
  }
}
