import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import { TelemetryError } from '../../src/errors.js';
import { cacheControl } from '../../src/query/cache-policy.js';
import { fleetWindows } from '../../src/query/fleet-windows.js';
import {
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
import { unknownParameters } from '../../src/query/unknown-parameters.js';
import { windowCoverage } from '../../src/query/window-coverage.js';
import { windowOrigin } from '../../src/query/zone-origin.js';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';
import { asHttpFailure } from '../http/client-faults.js';
import { errorReply } from '../http/error-reply.js';
import { deviceSelection, nothingSelected } from './fleet-devices.js';
import { authenticateOperator, type OperatorAuthOptions } from './query-auth.js';
import { acceptsGzip, answerFormat, sendAnswer, varyOnCredentials } from './query-reply.js';
import { byDeviceAndMetric, pagePayload, rangeOf, storeQuery } from './query-request.js';
import { sendStreamed } from './stream-answer.js';

export interface QueryRoutesOptions {
  readonly store: TelemetryStore;
  readonly auth: OperatorAuthOptions;
  readonly now: () => number;
  /** TELEMETRY_MAX_READING_AGE_SECONDS in ms: data older than that can no longer change. */
  readonly maxReadingAgeMs: number;
  readonly clockSkewMs: number;
}

/** Items a streamed answer reads from the store at a time, unless `limit` says otherwise. */
const STREAM_CHUNK = 10_000;

function chunkOf(query: { readonly limit?: number }): number {
  return query.limit ?? STREAM_CHUNK;
}

/** Where the query API lives. */
export const QUERY_PREFIX = '/v1/query';

const POINT_COLUMNS = ['device', 'metric', 'ts', 'value'] as const;
const WINDOW_COLUMNS = ['device', 'metric', 'ts', 'value', 'coverage'] as const;
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

/** Error answers of the query API: our codes as they are, fastify's and the store's translated by code. */
function queryError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let failure: TelemetryError;
  if (error.code === 'ERR_CURSOR_INVALID' && !(error instanceof TelemetryError)) {
    failure = new TelemetryError('ERR_CURSOR_INVALID', error.message, { cause: error });
  } else {
    const translated = asHttpFailure(error, 'ERR_QUERY_INVALID');
    if (translated.unexpected) request.log.error({ err: error }, 'unexpected query failure');
    failure = translated.failure;
  }
  const { status, headers, body } = errorReply(failure);
  return varyOnCredentials(reply).code(status).headers(headers).header('cache-control', 'no-store').send(body);
}

/** The query API's plugin instance, typed from the TypeBox schemas of its routes. */
type TypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** What every route handler of the query API shares. */
interface RouteContext {
  readonly store: TelemetryStore;
  /** The read scope of the request's operator token, set by the authentication hook. */
  readonly scopeOf: (request: FastifyRequest) => ReadScope;
  readonly now: () => number;
  /** The Cache-Control of an answer about data up to `end` (undefined: up to now). */
  readonly rangePolicy: (end: number | undefined) => string;
}

/**
 * The query API, under {@link QUERY_PREFIX}: readings, windowed aggregates,
 * the latest values and the series known, as JSON or CSV, paged with the
 * store's self-contained cursors. Every request is authenticated on its own
 * with an operator token (stateless, so any node answers any page), and
 * answers only what the token's scope covers.
 */
export async function registerQueryRoutes(app: FastifyInstance, options: QueryRoutesOptions): Promise<void> {
  const { now } = options;
  const scopes = new WeakMap<FastifyRequest, ReadScope>();
  const context: RouteContext = {
    store: options.store,
    now,
    scopeOf: (request) => {
      const scope = scopes.get(request);
      if (scope === undefined) throw new TelemetryError('ERR_INTERNAL', 'query request was not authenticated');
      return scope;
    },
    rangePolicy: (end) =>
      cacheControl({
        rangeEnd: end,
        now: now(),
        maxReadingAgeMs: options.maxReadingAgeMs,
        clockSkewMs: options.clockSkewMs,
      }),
  };

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
      // Before the schema check, which would drop unknown parameters without a word.
      scoped.addHook('preValidation', async (request) => {
        const schema = request.routeOptions.schema?.querystring;
        const known = typeof schema === 'object' && schema !== null && 'properties' in schema ? schema.properties : {};
        const unknown = unknownParameters(request.query, Object.keys(known ?? {}));
        if (unknown.length > 0) {
          throw new TelemetryError('ERR_QUERY_INVALID', `unknown query parameter: ${unknown.join(', ')}`);
        }
      });
      // ajv coerces a number too large for a double ("1e400") to Infinity and lets it through `integer` and
      // `maximum`; a store would then fail on it as a node fault (500, retryable). It is the client's: 400.
      scoped.addHook('preHandler', async (request) => {
        const infinite = Object.entries(request.query as Record<string, unknown>).filter(
          ([, value]) => typeof value === 'number' && !Number.isFinite(value),
        );
        if (infinite.length > 0) {
          const names = infinite.map(([name]) => name).join(', ');
          throw new TelemetryError('ERR_QUERY_INVALID', `query parameter out of range: ${names}`);
        }
      });
      const typed = scoped.withTypeProvider<TypeBoxTypeProvider>();
      registerReadingsRoute(typed, context);
      registerWindowsRoute(typed, context);
      registerLatestRoute(typed, context);
      registerSeriesRoute(typed, context);
    },
    { prefix: QUERY_PREFIX },
  );
}

/** GET /readings: raw values of the devices and metrics named, over a range, paged. */
function registerReadingsRoute(typed: TypedApp, { store, scopeOf, rangePolicy, now }: RouteContext): void {
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
      const range = rangeOf(query, now());
      const selection = await deviceSelection(query, scopeOf(request), store, reply);
      const format = answerFormat(query.format, request.headers.accept);
      if (query.all === true) {
        return sendStreamed(reply, {
          format,
          columns: POINT_COLUMNS,
          meta: { from: range.start, to: range.end },
          page: async (cursor) => {
            if (nothingSelected(selection)) return { items: [] };
            const page = await store.queryReadings({
              ...storeQuery({ ...query, selection, cursor }, range),
              limit: chunkOf(query),
            });
            return {
              ...page,
              items: page.items.map(({ device, metric, ts, value }) => ({ device, metric, ts, value })),
            };
          },
          cursor: query.cursor,
          gzip: acceptsGzip(request.headers['accept-encoding']),
        });
      }
      const page = nothingSelected(selection)
        ? { items: [] }
        : await store.queryReadings(storeQuery({ ...query, selection }, range));
      const payload: ReadingsResponse = pagePayload(range, page);
      return sendAnswer(request, reply, {
        payload,
        columns: POINT_COLUMNS,
        format,
        cacheControl: rangePolicy(range.end),
        range,
      });
    },
  );
}

/** GET /windows: values downsampled into epoch-aligned windows with an aggregate, paged. */
function registerWindowsRoute(typed: TypedApp, { store, scopeOf, rangePolicy, now }: RouteContext): void {
  typed.get(
    '/windows',
    {
      schema: {
        ...DOCS,
        summary: 'Readings downsampled into windows with an aggregate',
        description:
          'One value per window of windowMs that holds values (aligned to the epoch, or to the wall clock of tz), ' +
          'per device and metric, with the share of the window the range covers, ' +
          `ordered by device, metric, window start; paged. ${CSV_NOTE}`,
        querystring: WindowsQuerystring,
        response: { 200: WindowsResponse, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { query } = request;
      const range = rangeOf(query, now());
      const selection = await deviceSelection(query, scopeOf(request), store, reply);
      const aggregate = query.aggregate ?? 'mean';
      const { windowMs, tz } = query;
      const originMs = tz === undefined ? 0 : windowOrigin(tz, range, windowMs);
      const windowsFrom = async (cursor: string | undefined, limit: number | undefined) => {
        if (nothingSelected(selection)) return { items: [] };
        const windowed = {
          ...storeQuery({ ...query, selection, cursor, limit }, range),
          windowMs,
          aggregate,
          ...(originMs === 0 ? {} : { originMs }),
        };
        const page =
          query.group === 'fleet'
            ? await fleetWindows(store, windowed, `${query.prefix ?? ''}*`)
            : await store.queryWindows(windowed);
        return {
          ...page,
          items: page.items.map((item) => ({ ...item, coverage: windowCoverage(item.ts, windowMs, range) })),
        };
      };
      const format = answerFormat(query.format, request.headers.accept);
      if (query.all === true) {
        return sendStreamed(reply, {
          format,
          columns: WINDOW_COLUMNS,
          meta: { from: range.start, to: range.end, windowMs, aggregate, ...(tz === undefined ? {} : { tz }) },
          page: (cursor) => windowsFrom(cursor, chunkOf(query)),
          cursor: query.cursor,
          gzip: acceptsGzip(request.headers['accept-encoding']),
        });
      }
      const { items, ...rest } = pagePayload(range, await windowsFrom(query.cursor, query.limit));
      const payload: WindowsResponse = {
        ...rest,
        windowMs,
        aggregate,
        ...(tz === undefined ? {} : { tz }),
        items,
      };
      return sendAnswer(request, reply, {
        payload,
        columns: WINDOW_COLUMNS,
        format,
        cacheControl: rangePolicy(range.end),
        range,
      });
    },
  );
}

/** GET /latest: the latest value of each device and metric the token's scope covers. */
function registerLatestRoute(typed: TypedApp, { store, scopeOf, rangePolicy }: RouteContext): void {
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
}

/** GET /series: the devices and metrics stored that the token's scope covers, with when each was last seen. */
function registerSeriesRoute(typed: TypedApp, { store, scopeOf, rangePolicy }: RouteContext): void {
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
}
