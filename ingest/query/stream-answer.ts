import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { FastifyReply } from 'fastify';
import { type AnswerItem, AnswerWriter, type StreamFormat } from '../../src/query/answer-writer.js';
import type { Page } from '../../src/store/telemetry-store.js';
import { contentTypeOf, varyOnCredentials } from './query-reply.js';

/** What a whole, streamed answer reads and how it is written. */
export interface StreamedAnswer {
  readonly format: StreamFormat;
  readonly columns: readonly string[];
  /** The fields of the answer before its items (`from`, `to`, `windowMs`, ...). */
  readonly meta: Readonly<Record<string, unknown>>;
  /** Reads one page of the answer from the store, from `cursor` on. */
  readonly page: (cursor: string | undefined) => Promise<Page<AnswerItem>>;
  readonly cursor: string | undefined;
  readonly gzip: boolean;
}

/**
 * Sends a whole answer, page after page as the store reads them, with chunked transfer: the next page is read
 * only once the previous one has been taken by the socket (Readable.from pulls on demand), so the node holds
 * one page at a time however large the answer. The status is sent before the store has read everything: a
 * store failure in the middle ends the connection without the final chunk, which every HTTP client reports as
 * a truncated answer, never as a complete one.
 */
export function sendStreamed(reply: FastifyReply, answer: StreamedAnswer): FastifyReply {
  const writer = new AnswerWriter(answer.format, answer.columns, answer.meta);
  async function* chunks(): AsyncGenerator<string> {
    yield writer.open();
    let cursor = answer.cursor;
    do {
      const page = await answer.page(cursor);
      const text = writer.items(page.items);
      if (text !== '') yield text;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    yield writer.close(undefined);
  }
  // One chunk (a page of text) waiting at most, not Readable.from's default of 16 objects.
  const body = Readable.from(chunks(), { highWaterMark: 1 });
  varyOnCredentials(reply).header('cache-control', 'no-store').type(contentTypeOf(answer.format));
  if (!answer.gzip) return reply.send(body);
  reply.header('content-encoding', 'gzip');
  return reply.send(body.pipe(createGzip()));
}
