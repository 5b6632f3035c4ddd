/** One stored value, as the store and the query API return it. */
export interface StoredValue {
  readonly device: string;
  readonly metric: string;
  readonly ts: number;
  readonly value: number;
}

/** The part of a store (or of a node's query API) an audit reads: raw readings, page by page. */
export interface ReadingsSource {
  queryReadings(query: {
    readonly devices: readonly string[];
    readonly range: { readonly start: number; readonly end: number };
    readonly limit: number;
    readonly cursor?: string;
  }): Promise<{ readonly items: readonly StoredValue[]; readonly nextCursor?: string }>;
}

/** Raised when the query API refuses or cannot be reached; `code` is the node's error code when it sent one. */
export class QueryApiError extends Error {
  override readonly name = 'QueryApiError';
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Reads stored readings through a node's query API (GET /v1/query/readings,
 * docs/QUERY.md) with an operator token, following its cursors.
 *
 * @example
 * const source = new QueryApiSource('http://127.0.0.1:8080', process.env.TELEMETRY_TOKEN ?? '');
 */
export class QueryApiSource implements ReadingsSource {
  readonly #url: string;
  readonly #token: string;

  constructor(url: string, token: string) {
    this.#url = url;
    this.#token = token;
  }

  async queryReadings(query: Parameters<ReadingsSource['queryReadings']>[0]) {
    const params = new URLSearchParams();
    for (const device of query.devices) params.append('device', device);
    params.set('from', String(query.range.start));
    params.set('to', String(query.range.end));
    params.set('limit', String(query.limit));
    if (query.cursor !== undefined) params.set('cursor', query.cursor);
    let response: Response;
    try {
      response = await fetch(new URL(`/v1/query/readings?${params}`, this.#url), {
        headers: { authorization: `Bearer ${this.#token}`, accept: 'application/json' },
      });
    } catch (error) {
      throw new QueryApiError('SIM_NO_ANSWER', `the query API at ${this.#url} did not answer`, { cause: error });
    }
    const body = (await response.json().catch(() => null)) as {
      items?: StoredValue[];
      nextCursor?: string;
      error?: { code?: string; message?: string };
    } | null;
    if (response.status !== 200 || !Array.isArray(body?.items)) {
      const code = body?.error?.code ?? `HTTP_${response.status}`;
      throw new QueryApiError(code, `the query API answered ${response.status} ${code}`);
    }
    return body.nextCursor === undefined ? { items: body.items } : { items: body.items, nextCursor: body.nextCursor };
  }
}
