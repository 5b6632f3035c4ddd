import { getJson, type JsonAnswer } from './get-json.js';
import type { QueryItem } from './query-endpoints.js';
import { QueryFailure } from './query-failure.js';

/** One page of a query answer, its items checked against the endpoint's columns. */
export interface QueryPage {
  /** The whole JSON answer, as the node sent it. */
  readonly body: Readonly<Record<string, unknown>>;
  readonly items: readonly QueryItem[];
  readonly nextCursor: string | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isCell = (value: unknown) => typeof value === 'string' || typeof value === 'number';

// The answers are checked by hand, not against the node's TypeBox schemas: loading TypeBox (some 200 modules)
// took longer than the rest of `telemetry query`. What is checked is what printing relies on: items whose
// fields are the endpoint's columns, each a name, time or value.

/** Whether `value` is one item with each of `columns` a string or a number, and nothing else in it. */
function isItem(value: unknown, columns: readonly string[]): value is QueryItem {
  return isRecord(value) && columns.every((c) => isCell(value[c])) && Object.values(value).every(isCell);
}

/** Whether `body` is the node's error answer: `{ error: { code, message, retryable } }`. */
function isErrorAnswer(body: unknown): body is { error: { code: string; message: string } } {
  return (
    isRecord(body) &&
    isRecord(body.error) &&
    typeof body.error.code === 'string' &&
    typeof body.error.message === 'string'
  );
}

/** Why a request failed, from the node's error body when it sent one (never echoing the token). */
function failure({ status, statusText, body }: JsonAnswer): QueryFailure {
  if (isErrorAnswer(body)) return new QueryFailure(`${status} ${body.error.code}: ${body.error.message}`);
  return new QueryFailure(`the node answered ${status} ${statusText}`);
}

async function fetchPage(url: URL, token: string, columns: readonly string[]): Promise<QueryPage> {
  let answer: JsonAnswer;
  try {
    answer = await getJson(url, { authorization: `Bearer ${token}`, accept: 'application/json' });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new QueryFailure(`cannot reach ${url.origin}${typeof code === 'string' ? `: ${code}` : ''}`, {
      cause: error,
    });
  }
  if (answer.status < 200 || answer.status > 299) throw failure(answer);
  const { body } = answer;
  if (
    !isRecord(body) ||
    !Array.isArray(body.items) ||
    !body.items.every((item) => isItem(item, columns)) ||
    !(body.nextCursor === undefined || typeof body.nextCursor === 'string')
  ) {
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
  options: { readonly token: string; readonly columns: readonly string[]; readonly all: boolean },
): AsyncGenerator<QueryPage> {
  let next: URL | undefined = url;
  while (next !== undefined) {
    const page = await fetchPage(next, options.token, options.columns);
    yield page;
    if (!options.all || page.nextCursor === undefined) return;
    next = new URL(next);
    next.searchParams.set('cursor', page.nextCursor);
  }
}
