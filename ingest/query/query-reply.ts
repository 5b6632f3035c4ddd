import type { FastifyReply, FastifyRequest } from 'fastify';
import { entityTag, ifNoneMatchHits } from '../../src/query/entity-tag.js';
import { type CsvValue, formatCsv } from '../../src/query/format-csv.js';

/** The media types the query API answers in. */
export type AnswerFormat = 'json' | 'csv';

/** RFC 4180 §3 (with the header parameter of RFC 4180's registration). */
const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8; header=present';

/** The format asked for: `format=` wins, then `Accept: text/csv`, else JSON. */
export function answerFormat(format: AnswerFormat | undefined, accept: string | undefined): AnswerFormat {
  if (format !== undefined) return format;
  return /(^|,)\s*text\/csv\s*(;|,|$)/i.test(accept ?? '') ? 'csv' : 'json';
}

/** Headers every query answer, error or not, carries: it depends on the token and on Accept. */
export function varyOnCredentials(reply: FastifyReply): FastifyReply {
  return reply.header('vary', 'Authorization, Accept');
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

function serialized(body: string | Buffer | ArrayBuffer): string {
  if (typeof body === 'string') return body;
  return (Buffer.isBuffer(body) ? body : Buffer.from(body)).toString('utf8');
}

/**
 * Sends a query answer as JSON (serialised by the route's response schema) or
 * CSV, with its cache headers and a strong ETag of the body, or 304 when the
 * client's If-None-Match already holds that body. A following page is named
 * in the body (`nextCursor`, JSON) and in a `Link: <…>; rel="next"` header
 * (both formats).
 */
export function sendAnswer<Column extends string, Item extends Readonly<Record<Column, CsvValue>>>(
  request: FastifyRequest,
  reply: FastifyReply,
  answer: QueryAnswer<Column, Item>,
): FastifyReply {
  const { payload, columns } = answer;
  const body =
    answer.format === 'csv'
      ? formatCsv(
          columns,
          payload.items.map((item) => columns.map((column) => item[column])),
        )
      : serialized(reply.serialize(payload));
  const etag = entityTag(body);
  varyOnCredentials(reply).header('cache-control', answer.cacheControl).header('etag', etag);
  if (payload.nextCursor !== undefined) {
    reply.header('link', `<${nextPageUrl(request, payload.nextCursor, answer.range)}>; rel="next"`);
  }
  if (ifNoneMatchHits(request.headers['if-none-match'], etag)) return reply.code(304).send();
  return reply.type(answer.format === 'csv' ? CSV_CONTENT_TYPE : 'application/json; charset=utf-8').send(body);
}
