import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ErrorResponse } from '../../src/query/query-schemas.js';
import type { QueryItem } from './query-endpoints.js';
import { QueryFailure } from './query-failure.js';

/** One page of a query answer, checked against the endpoint's schema. */
export interface QueryPage {
  /** The whole JSON answer, as the node sent it. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly items: readonly QueryItem[];
  readonly nextCursor: string | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isItem(value: unknown): value is QueryItem {
  return isRecord(value) && Object.values(value).every((v) => typeof v === 'string' || typeof v === 'number');
}

/** Why a request failed, from the node's error body when it sent one (never echoing the token). */
async function failure(response: Response): Promise<QueryFailure> {
  const body: unknown = await response.json().catch(() => undefined);
  if (Value.Check(ErrorResponse, body)) {
    return new QueryFailure(`${response.status} ${body.error.code}: ${body.error.message}`);
  }
  return new QueryFailure(`the node answered ${response.status} ${response.statusText}`);
}

async function fetchPage(url: URL, token: string, response: TSchema): Promise<QueryPage> {
  let answer: Response;
  try {
    answer = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } });
  } catch (error) {
    const code = (error as { cause?: { code?: unknown } }).cause?.code;
    throw new QueryFailure(`cannot reach ${url.origin}${typeof code === 'string' ? `: ${code}` : ''}`, {
      cause: error,
    });
  }
  if (!answer.ok) throw await failure(answer);
  const body: unknown = await answer.json().catch(() => undefined);
  if (!isRecord(body) || !Value.Check(response, body) || !Array.isArray(body.items) || !body.items.every(isItem)) {
    throw new QueryFailure(`${url.pathname} answered something that is not a query answer`);
  }
  const nextCursor = typeof body.nextCursor === 'string' ? body.nextCursor : undefined;
  return { body, items: body.items, nextCursor };
}

/**
 * Fetches a query's first page from `url` and, with `all`, every following
 * one by passing each `nextCursor` back (any node can continue a query).
 */
export async function* fetchPages(
  url: URL,
  options: { readonly token: string; readonly response: TSchema; readonly all: boolean },
): AsyncGenerator<QueryPage> {
  let next: URL | undefined = url;
  while (next !== undefined) {
    const page = await fetchPage(next, options.token, options.response);
    yield page;
    if (!options.all || page.nextCursor === undefined) return;
    next = new URL(next);
    next.searchParams.set('cursor', page.nextCursor);
  }
}
