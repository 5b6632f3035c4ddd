import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TelemetryError } from '../../src/errors.js';
import { cacheControl } from '../../src/query/cache-policy.js';
import { parseInstant } from '../../src/query/parse-instant.js';
import {
  DEFAULT_PAGE_LIMIT,
  ErrorResponse,
  LatestQuerystring,
  LatestResponse,
  ReadingsQuerystring,
  ReadingsResponse,
  SeriesQuerystring,
  SeriesResponse,
  WindowsQuerystring,
  WindowsResponse,
} from '../../src/query/query-schemas.js';
import type { ReadScope } from '../../src/query/read-scope.js';
import type { Page, ReadingsQuery, StoredPoint, TelemetryStore, TimeRange } from '../../src/store/telemetry-store.js';
import { errorReply } from '../http/error-reply.js';
import { authenticateOperator, insufficientScopeChallenge, type OperatorAuthOptions } from './query-auth.js';
import { answerFormat, sendAnswer, varyOnCredentials } from './query-reply.js';

export interface QueryRoutesOptions {
  readonly store: TelemetryStore;
  readonly auth: OperatorAuthOptions;
  readonly now: () => number;
  /** TELEMETRY_MAX_READING_AGE_SECONDS in ms: data older than that can no longer change. */
  readonly maxReadingAgeMs: number;
  readonly clockSkewMs: number;
}

/** Where the query API lives. */
export const QUERY_PREFIX = '/v1/query';

const POINT_COLUMNS = ['device', 'metric', 'ts', 'value'] as const;
const SERIES_COLUMNS = ['device', 'metric', 'lastSeen'] as const;

const ERROR_RESPONSES = {
  400: { ...ErrorResponse, description: 'ERR_QUERY_INVALID or ERR_CURSOR_INVALID' },
  401: { ...ErrorResponse, description: 'ERR_UNAUTHORIZED: no operator token, or one that does not verify' },
  403: { ...ErrorResponse, description: "ERR_FORBIDDEN: a device outside the token's scope" },
  503: { ...ErrorResponse, description: 'ERR_STORE_UNAVAILABLE' },
};
const CSV_NOTE =
  'Answers JSON, or CSV with a header row (RFC 4180) with `format=csv` or `Accept: text/csv`; ' +
  'the CSV columns are the fields of the JSON items.';
const DOCS = { tags: ['query'], security: [{ operatorToken: [] }] };

function invalid(message: string): TelemetryError {
  return new TelemetryError('ERR_QUERY_INVALID', message);
}

/** The range `from`/`to` name; ERR_QUERY_INVALID unless it is a real, non-empty one. */
function rangeOf(query: { readonly from: string; readonly to: string }): TimeRange {
  const start = parseInstant(query.from);
  const end = parseInstant(query.to);
  if (start === undefined) throw invalid('from is not a time (ms since the epoch or RFC 3339)');
  if (end === undefined) throw invalid('to is not a time (ms since the epoch or RFC 3339)');
  if (start >= end) throw invalid('from must be before to');
  return { start, end };
}

/** ERR_FORBIDDEN, with the RFC 6750 challenge, unless the scope covers every device named. */
function assertCovers(scope: ReadScope, devices: readonly string[], reply: FastifyReply): void {
  const outside = devices.find((device) => !scope.allows(device));
  if (outside === undefined) return;
  reply.header('www-authenticate', insufficientScopeChallenge());
  throw new TelemetryError('ERR_FORBIDDEN', `the operator token does not cover device ${outside}`);
}

function byDeviceAndMetric(a: StoredPoint, b: StoredPoint): number {
  if (a.device !== b.device) return a.device < b.device ? -1 : 1;
  if (a.metric !== b.metric) return a.metric < b.metric ? -1 : 1;
  return 0;
}

/** Error answers of the query API: our codes as they are, fastify's and the store's translated by code. */
function queryError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let failure: TelemetryError;
  if (error instanceof TelemetryError) failure = error;
  else if (error.code === 'FST_ERR_VALIDATION') failure = new TelemetryError('ERR_QUERY_INVALID', error.message);
  else if (error.code === 'ERR_CURSOR_INVALID') {
    failure = new TelemetryError('ERR_CURSOR_INVALID', error.message, { cause: error });
  } else {
    request.log.error({ err: error }, 'unexpected query failure');
    failure = new TelemetryError('ERR_INTERNAL', 'unexpected failure', { cause: error });
  }
  const { status, headers, body } = errorReply(failure);
  return varyOnCredentials(reply).code(status).headers(headers).header('cache-control', 'no-store').send(body);
}

/**
 * The query API, under {@link QUERY_PREFIX}: readings, windowed aggregates,
 * the latest values and the series known, as JSON or CSV, paged with the
 * store's self-contained cursors. Every request is authenticated on its own
 * with an operator token (stateless, so any node answers any page), and
 * answers only what the token's scope covers.
 */
/** The store query that a paged query's parameters ask for. */
function storeQuery(
  query: { device: string[]; metric?: string[]; limit?: number; cursor?: string },
  range: TimeRange,
): ReadingsQuery {
  return {
    devices: query.device,
    ...(query.metric === undefined ? {} : { metrics: query.metric }),
    range,
    limit: query.limit ?? DEFAULT_PAGE_LIMIT,
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  };
}

/** The answer's range, items and, when more follow, the cursor to the next page. */
function pagePayload<T>(range: TimeRange, page: Page<T>) {
  return {
    from: range.start,
    to: range.end,
    items: [...page.items],
    ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
  };
}

export async function registerQueryRoutes(app: FastifyInstance, options: QueryRoutesOptions): Promise<void> {
  const { store, now } = options;
  const scopes = new WeakMap<FastifyRequest, ReadScope>();
  const scopeOf = (request: FastifyRequest): ReadScope => {
    const scope = scopes.get(request);
    if (scope === undefined) throw new TelemetryError('ERR_INTERNAL', 'query request was not authenticated');
    return scope;
  };
  const rangePolicy = (end: number | undefined) =>
    cacheControl({
      rangeEnd: end,
      now: now(),
      maxReadingAgeMs: options.maxReadingAgeMs,
      clockSkewMs: options.clockSkewMs,
    });

  await app.register(
    async (scoped) => {
      scoped.setErrorHandler(queryError);
      // Authentication comes first, so a caller without a token learns nothing, not even what a valid query is.
      scoped.addHook('onRequest', async (request, reply) => {
        const result = await authenticateOperator(request.headers.authorization, options.auth);
        if (!result.ok) {
          reply.header('www-authenticate', result.challenge);
          throw result.error;
        }
        scopes.set(request, result.scope);
      });
      const typed = scoped.withTypeProvider<TypeBoxTypeProvider>();

      typed.get(
        '/readings',
        {
          schema: {
            ...DOCS,
            summary: 'Readings of devices and metrics over a time range',
            description: `Raw values ordered by device, metric, ts; paged. ${CSV_NOTE}`,
            querystring: ReadingsQuerystring,
            response: { 200: ReadingsResponse, ...ERROR_RESPONSES },
          },
        },
        async (request, reply) => {
          const { query } = request;
          const range = rangeOf(query);
          assertCovers(scopeOf(request), query.device, reply);
          const page = await store.queryReadings(storeQuery(query, range));
          const payload: ReadingsResponse = pagePayload(range, page);
          return sendAnswer(request, reply, {
            payload,
            columns: POINT_COLUMNS,
            format: answerFormat(query.format, request.headers.accept),
            cacheControl: rangePolicy(range.end),
          });
        },
      );

      typed.get(
        '/windows',
        {
          schema: {
            ...DOCS,
            summary: 'Readings downsampled into windows with an aggregate',
            description:
              'One value per epoch-aligned window of windowMs that holds values, per device and metric, ' +
              `ordered by device, metric, window start; paged. ${CSV_NOTE}`,
            querystring: WindowsQuerystring,
            response: { 200: WindowsResponse, ...ERROR_RESPONSES },
          },
        },
        async (request, reply) => {
          const { query } = request;
          const range = rangeOf(query);
          assertCovers(scopeOf(request), query.device, reply);
          const aggregate = query.aggregate ?? 'mean';
          const page = await store.queryWindows({ ...storeQuery(query, range), windowMs: query.windowMs, aggregate });
          const payload: WindowsResponse = { ...pagePayload(range, page), windowMs: query.windowMs, aggregate };
          return sendAnswer(request, reply, {
            payload,
            columns: POINT_COLUMNS,
            format: answerFormat(query.format, request.headers.accept),
            cacheControl: rangePolicy(range.end),
          });
        },
      );

      typed.get(
        '/latest',
        {
          schema: {
            ...DOCS,
            summary: 'The latest value of each device and metric',
            description: `Only devices the token's scope covers. ${CSV_NOTE}`,
            querystring: LatestQuerystring,
            response: { 200: LatestResponse, ...ERROR_RESPONSES },
          },
        },
        async (request, reply) => {
          const { query } = request;
          const scope = scopeOf(request);
          // One store query per prefix the scope allows, so a narrow token never makes the store read everything.
          const pages = await Promise.all(
            scope.storePrefixes(query.prefix).map((devicePrefix) =>
              store.queryLatest({
                ...(devicePrefix === undefined ? {} : { devicePrefix }),
                ...(query.metric === undefined ? {} : { metrics: query.metric }),
              }),
            ),
          );
          const items = pages
            .flat()
            .filter((point) => scope.allows(point.device))
            .sort(byDeviceAndMetric);
          return sendAnswer(request, reply, {
            payload: { items } satisfies LatestResponse,
            columns: POINT_COLUMNS,
            format: answerFormat(query.format, request.headers.accept),
            cacheControl: rangePolicy(undefined),
          });
        },
      );

      typed.get(
        '/series',
        {
          schema: {
            ...DOCS,
            summary: 'The devices and metrics stored, with when each was last seen',
            description: `Only devices the token's scope covers. ${CSV_NOTE}`,
            querystring: SeriesQuerystring,
            response: { 200: SeriesResponse, ...ERROR_RESPONSES },
          },
        },
        async (request, reply) => {
          const { query } = request;
          const scope = scopeOf(request);
          const prefix = query.prefix ?? '';
          const items = (await store.listSeries()).filter(
            (series) => series.device.startsWith(prefix) && scope.allows(series.device),
          );
          return sendAnswer(request, reply, {
            payload: { items } satisfies SeriesResponse,
            columns: SERIES_COLUMNS,
            format: answerFormat(query.format, request.headers.accept),
            cacheControl: rangePolicy(undefined),
          });
        },
      );
    },
    { prefix: QUERY_PREFIX },
  );
}
