import { type MessageLimits, readingsThatFit, type WireReading } from '../../src/index.js';

/** A reading sampled and not yet sent, with its index in the device's sequence of readings. */
export interface BufferedReading extends WireReading {
  readonly index: number;
}

/** The readings of one message, and the indices of its first and last. */
export interface MessageChunk {
  readonly first: number;
  readonly last: number;
  readonly readings: WireReading[];
}

/** Takes from the front of `buffer` as many readings as fit in one message. */
export function takeChunk(buffer: BufferedReading[], overhead: number, limits: MessageLimits): MessageChunk {
  const count = readingsThatFit(buffer, overhead, limits);
  const chunk = buffer.splice(0, count);
  const first = chunk[0]?.index ?? 0;
  const last = chunk[chunk.length - 1]?.index ?? first;
  return { first, last, readings: chunk.map(({ ts, values }) => ({ ts, values })) };
}
