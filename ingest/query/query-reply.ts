import { promisify } from 'node:util';
import { constants, gzip as gzipWithCallback } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AnswerWriter, type StreamFormat } from '../../src/query/answer-writer.js';
import { entityTag, ifNoneMatchHits } from '../../src/query/entity-tag.js';
import type { CsvValue } from '../../src/query/format-csv.js';

/** The media types the query API answers in. */
export type AnswerFormat = StreamFormat;

/** RFC 4180 §3 (with the header parameter of RFC 4180's registration). */
const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8; header=present';

/** The Content-Type of an answer in `format`. */
export function contentTypeOf(format: AnswerFormat): string {
  if (format === 'csv') return CSV_CONTENT_TYPE;
  if (format === 'ndjson') return 'application/x-ndjson; charset=utf-8';
  return 'application/json; charset=utf-8';
}

/** The format asked for: `format=` wins, then `Accept: text/csv` or `application/x-ndjson`, else JSON. */
export function answerFormat(format: AnswerFormat | undefined, accept: string | undefined): AnswerFormat {
  if (format !== undefined) return format;
  if (/(^|,)\s*text\/csv\s*(;|,|$)/i.test(accept ?? '')) return 'csv';
  return /(^|,)\s*application\/x-ndjson\s*(;|,|$)/i.test(accept ?? '') ? 'ndjson' : 'json';
}

/** Whether the client takes gzip (RFC 9110 §12.5.3), not refused with `q=0`. */
export function acceptsGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((coding) => {
    const [name = '', ...params] = coding.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return (name === 'gzip' || name === 'x-gzip') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/** Headers every query answer, error or not, carries: it depends on the token, on Accept and Accept-Encoding. */
export function varyOnCredentials(reply: FastifyReply): FastifyReply {
  return reply.header('vary', 'Authorization, Accept, Accept-Encoding');
}

/** What one query endpoint answers: the JSON payload, and the columns of its items for CSV. */
export interface QueryAnswer<Column extends string, Item extends Readonly<Record<Column, CsvValue>>> {
  readonly payload: { readonly items: readonly Item[]; readonly nextCursor?: string };
  readonly columns: readonly Column[];
  readonly format: AnswerFormat;
  readonly cacheControl: string;
  /** The range as read, so the next page's URL names it in milliseconds even when the request said `now-1h`. */
  readonly range?: { readonly start: number; readonly end: number };
}

/**
 * The request URL with `cursor` set to `nextCursor`: the next page, for a Link header (RFC 8288). Relative times
 * are fixed to the instants this page read, so the cursor stays one of the same query.
 */
function nextPageUrl(
  request: FastifyRequest,
  nextCursor: string,
  range: { readonly start: number; readonly end: number } | undefined,
): string {
  const url = new URL(request.url, 'http://node.invalid');
  url.searchParams.set('cursor', nextCursor);
  if (range !== undefined) {
    url.searchParams.set('from', String(range.start));
    url.searchParams.set('to', String(range.end));
  }
  return `${url.pathname}${url.search}`;
}

/**
 * Sends a query answer as JSON, NDJSON, compact JSON or CSV (written as
 * bytes by {@link AnswerWriter}, JSON in the order of the route's response
 * schema), with its cache headers and a strong ETag of the body, or 304 when
 * the client's If-None-Match already holds that body. A following page is named
 * in the body (`nextCursor`, JSON) and in a `Link: <…>; rel="next"` header
 * (both formats).
 */
export async function sendAnswer<Column extends string, Item extends Readonly<Record<Column, CsvValue>>>(
  request: FastifyRequest,
  reply: FastifyReply,
  answer: QueryAnswer<Column, Item>,
): Promise<FastifyReply> {
  // Encoded once: the tag is of these bytes, and they are what is sent or compressed.
  const body = bodyOf(answer);
  const gzip = body.length >= GZIP_FROM_BYTES && acceptsGzip(headerText(request.headers['accept-encoding']));
  // A strong ETag names one representation: the gzipped one gets a tag of its own (RFC 9110 §8.8.3).
  const etag = gzip ? `${entityTag(body).slice(0, -1)}-gzip"` : entityTag(body);
  varyOnCredentials(reply).header('cache-control', answer.cacheControl).header('etag', etag);
  if (answer.payload.nextCursor !== undefined) {
    reply.header('link', `<${nextPageUrl(request, answer.payload.nextCursor, answer.range)}>; rel="next"`);
  }
  if (ifNoneMatchHits(request.headers['if-none-match'], etag)) return reply.code(304).send();
  reply.type(contentTypeOf(answer.format));
  if (!gzip) return reply.send(body);
  // Compressed off the event loop (zlib's thread pool), so a large page does not hold up ingest meanwhile.
  return reply.header('content-encoding', 'gzip').send(await gzipAsync(body, { level: ANSWER_GZIP_LEVEL }));
}

const gzipAsync = promisify(gzipWithCallback);

/**
 * zlib's fastest level: on telemetry JSON it compresses about 2.4 times faster than the default level 6, to a body
 * about a tenth larger (8.97 MB of compact JSON: 113 ms and 34.6 % against 271 ms and 31.4 %). Answers cross a LAN
 * more often than a slow link, and the node's CPU is what ingest needs.
 */
export const ANSWER_GZIP_LEVEL = constants.Z_BEST_SPEED;

/** Answers smaller than this are sent as they are: gzip would save little and cost a round of CPU. */
const GZIP_FROM_BYTES = 1_024;

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** The body of a buffered answer in its format. */
function bodyOf<Column extends string, Item extends Readonly<Record<Column, CsvValue>>>(
  answer: QueryAnswer<Column, Item>,
): Buffer {
  const { items, nextCursor, ...meta } = answer.payload;
  const writer = new AnswerWriter(
    answer.format,
    answer.columns,
    meta,
    EXPECTED_ITEM_BYTES[answer.format] * items.length + 512,
  );
  writer.open();
  writer.items(items);
  writer.close(nextCursor);
  const chunks = writer.take();
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

/**
 * A generous size of one item of a buffered answer in each format (a JSON reading is about 75 bytes, a window about
 * 90; a compact point about 30), so that most bodies are written into one buffer and sent as they are.
 */
const EXPECTED_ITEM_BYTES: Readonly<Record<AnswerFormat, number>> = { json: 112, ndjson: 112, csv: 80, compact: 48 };
