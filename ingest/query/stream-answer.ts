import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { FastifyReply } from 'fastify';
import { type AnswerItem, AnswerWriter, type StreamFormat } from '../../src/query/answer-writer.js';
import type { Page } from '../../src/store/telemetry-store.js';
import { ANSWER_GZIP_LEVEL, contentTypeOf, varyOnCredentials } from './query-reply.js';

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
 * Sends a whole answer, page after page as the store reads them, with chunked transfer. While one page is
 * written and sent, the next is read from the store (one page ahead, no more): the socket and the store work
 * at the same time, and the node holds at most two pages however large the answer. The status is sent before
 * the store has read everything: a store failure in the middle ends the connection without the final chunk,
 * which every HTTP client reports as a truncated answer, never as a complete one.
 */
export function sendStreamed(reply: FastifyReply, answer: StreamedAnswer): FastifyReply {
  const writer = new AnswerWriter(answer.format, answer.columns, answer.meta);
  async function* chunks(): AsyncGenerator<Buffer> {
    writer.open();
    yield* writer.take();
    let next: Promise<Page<AnswerItem>> | undefined = readAhead(answer.page(answer.cursor));
    while (next !== undefined) {
      const page: Page<AnswerItem> = await next;
      next = page.nextCursor === undefined ? undefined : readAhead(answer.page(page.nextCursor));
      writer.items(page.items);
      yield* writer.take();
    }
    writer.close(undefined);
    yield* writer.take();
  }
  // One chunk (up to 64 KiB of a page) waiting at most, not Readable.from's default of 16 objects.
  const body = Readable.from(chunks(), { highWaterMark: 1 });
  varyOnCredentials(reply).header('cache-control', 'no-store').type(contentTypeOf(answer.format));
  if (!answer.gzip) return reply.send(body);
  reply.header('content-encoding', 'gzip');
  return reply.send(body.pipe(createGzip({ level: ANSWER_GZIP_LEVEL })));
}

/**
 * A page read ahead, marked handled at once: it may fail while its answer waits for the socket, or after the client
 * went away and nobody reads it. A failure still reaches whoever awaits it.
 */
function readAhead(page: Promise<Page<AnswerItem>>): Promise<Page<AnswerItem>> {
  page.catch(() => undefined);
  return page;
}
