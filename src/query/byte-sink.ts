import { NUMBER_TEXT_MAX_BYTES, writeNumberText } from '../store/number-text.js';

/** The size of every chunk after the first. Below glibc's mmap threshold, so chunks reuse freed heap memory. */
const CHUNK_BYTES = 64 * 1024;
/** The first chunk: small enough for Node's shared buffer pool (under half of `Buffer.poolSize`). */
const FIRST_CHUNK_BYTES = 2 * 1024;
/** Text longer than this is encoded by Buffer in one call rather than a character at a time. */
const LONG_TEXT = 64;

/**
 * The bytes of an answer, appended piece by piece into chunks, for {@link AnswerWriter}: writing each
 * character's byte straight into a buffer costs about half of building the answer as a string and encoding it
 * (a string built by `+=` is a rope of thousands of small pieces, which V8 flattens, then UTF-8 encodes, in two
 * more passes). Text is encoded as UTF-8.
 */
export class ByteSink {
  #chunks: Buffer[] = [];
  #buffer: Buffer;
  #offset = 0;

  /** `expectedBytes`: the size of the first chunk, so that an answer of about that size is one chunk, not copied. */
  constructor(expectedBytes = FIRST_CHUNK_BYTES) {
    this.#buffer = Buffer.allocUnsafe(Math.max(1, expectedBytes));
  }

  /** Appends `text`, which holds only ASCII characters (a number's text, JSON punctuation). */
  ascii(text: string): void {
    const length = text.length;
    if (length > LONG_TEXT) {
      this.bytes(Buffer.from(text, 'latin1'));
      return;
    }
    if (this.#offset + length > this.#buffer.length) this.#nextChunk();
    const buffer = this.#buffer;
    let offset = this.#offset;
    for (let index = 0; index < length; index++) buffer[offset++] = text.charCodeAt(index);
    this.#offset = offset;
  }

  /** Appends a number's text, as `String(value)` writes it, straight into the chunk (see {@link writeNumberText}). */
  number(value: number): void {
    if (this.#offset + NUMBER_TEXT_MAX_BYTES > this.#buffer.length) this.#nextChunk();
    this.#offset = writeNumberText(this.#buffer, this.#offset, value);
  }

  /** Appends any text, as UTF-8. */
  text(text: string): void {
    if (isAscii(text)) this.ascii(text);
    else this.bytes(Buffer.from(text, 'utf8'));
  }

  /** Appends one byte. */
  byte(value: number): void {
    if (this.#offset === this.#buffer.length) this.#nextChunk();
    this.#buffer[this.#offset++] = value;
  }

  /** Appends `bytes`, across chunks when they do not fit in this one. */
  bytes(bytes: Uint8Array): void {
    const length = bytes.length;
    if (length <= LONG_TEXT) {
      // A loop: for a few dozen bytes, cheaper than TypedArray.set with the view it needs.
      if (this.#offset + length > this.#buffer.length) this.#nextChunk();
      const buffer = this.#buffer;
      let offset = this.#offset;
      for (let index = 0; index < length; index++) buffer[offset++] = bytes[index] as number;
      this.#offset = offset;
      return;
    }
    let from = 0;
    while (from < bytes.length) {
      if (this.#offset === this.#buffer.length) this.#nextChunk();
      const count = Math.min(bytes.length - from, this.#buffer.length - this.#offset);
      this.#buffer.set(bytes.subarray(from, from + count), this.#offset);
      this.#offset += count;
      from += count;
    }
  }

  /**
   * The bytes appended since the last take, in order. The sink goes on in the rest of its current chunk, which
   * the taken bytes do not overlap, so they may be held (sent, compressed) while the sink writes on.
   */
  take(): Buffer[] {
    const taken = this.#chunks;
    if (this.#offset > 0) taken.push(this.#buffer.subarray(0, this.#offset));
    this.#chunks = [];
    this.#buffer = this.#buffer.subarray(this.#offset);
    this.#offset = 0;
    return taken;
  }

  #nextChunk(): void {
    if (this.#offset > 0) this.#chunks.push(this.#buffer.subarray(0, this.#offset));
    this.#buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    this.#offset = 0;
  }
}

/** Whether every character of `text` is below U+0080. */
function isAscii(text: string): boolean {
  for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) > 0x7f) return false;
  return true;
}
