import { type Static, Type } from '@sinclair/typebox';
import { DEVICE_ID_PATTERN, METRIC_NAME_PATTERN } from '../protocol/names.js';
import { MAX_PAGE_LIMIT } from '../store/keyset-page.js';
import { QUERY_TIME_PATTERN } from './parse-query-time.js';

/**
 * The query API's wire format, in one schema language: the routes validate
 * query strings and serialise answers with these, the OpenAPI document is
 * generated from them, and the CLI checks the answers it gets against them.
 */

/** Most devices or metrics one query may name. */
const MAX_NAMES_PER_QUERY = 100;
/** The page size when a query does not say. */
export const DEFAULT_PAGE_LIMIT = 1_000;
/** The longest window a windowed query may ask for: 366 days. */
const MAX_WINDOW_MS = 366 * 86_400_000;

const DeviceId = Type.String({ pattern: DEVICE_ID_PATTERN.source, description: 'A device id.' });
const MetricName = Type.String({ pattern: METRIC_NAME_PATTERN.source, description: 'A metric name.' });
const DevicePrefix = Type.String({
  pattern: '^[A-Za-z0-9._-]{1,64}$',
  description: 'Only devices whose id starts with this.',
});
const Instant = Type.String({
  pattern: QUERY_TIME_PATTERN,
  description:
    'Milliseconds since the epoch, an RFC 3339 date-time with a zone, `now`, or a time before now ' +
    '(`now-15m`, `now-1h`, `now-7d`; units ms, s, m, h, d, w).',
  examples: ['1795867200000', '2026-11-28T12:00:00Z', 'now-1h'],
});
const Devices = Type.Array(DeviceId, {
  minItems: 1,
  maxItems: MAX_NAMES_PER_QUERY,
  description: 'Device ids; repeat the parameter for several (`device=a&device=b`). This or `prefix` is required.',
});
const Metrics = Type.Array(MetricName, {
  minItems: 1,
  maxItems: MAX_NAMES_PER_QUERY,
  description: 'Metric names; repeat for several. All metrics when absent.',
});
const Format = Type.Union([Type.Literal('json'), Type.Literal('csv')], {
  description: 'Answer as JSON (default) or CSV; `Accept: text/csv` does the same as `csv`.',
});
const PointsFormat = Type.Union(
  [Type.Literal('json'), Type.Literal('csv'), Type.Literal('ndjson'), Type.Literal('compact')],
  {
    description:
      'Answer as JSON (default), CSV, NDJSON (one item per line) or compact JSON (device and metric once per ' +
      'series, then its points as arrays); `Accept: text/csv` and `Accept: application/x-ndjson` choose the same.',
  },
);
const All = Type.Boolean({
  description:
    'The whole answer in one response, streamed with chunked transfer as the store reads it, instead of one ' +
    'page: no page limit and no nextCursor (`limit` is then how many items the node reads from the store at a ' +
    'time). A `cursor` starts it where that page ended.',
});
// No schema default: the route fills one in, which differs with `all` (a page, or a streamed answer's chunks), and
// a default here would reach the route as if the client had asked for it.
const Limit = Type.Integer({
  minimum: 1,
  maximum: MAX_PAGE_LIMIT,
  description: `Most items on one page: ${DEFAULT_PAGE_LIMIT.toLocaleString('en')} unless given. With \`all=true\`, how many items the node reads from the store at a time: 10,000 unless given.`,
});
// No pattern or length here: a failed schema check answers ERR_QUERY_INVALID, and every bad cursor (malformed,
// over 2,048 characters, or of another query) must answer ERR_CURSOR_INVALID, which decodeCursor raises.
const Cursor = Type.String({
  description:
    'The `nextCursor` of the previous page of the same query: opaque base64url, at most 2,048 characters. ' +
    'A cursor that is malformed, longer, or made for another query is refused with ERR_CURSOR_INVALID.',
});

/** The aggregates a windowed query may ask for. */
const AggregateSchema = Type.Union(
  [
    Type.Literal('mean'),
    Type.Literal('min'),
    Type.Literal('max'),
    Type.Literal('sum'),
    Type.Literal('count'),
    Type.Literal('last'),
  ],
  { description: 'How the values in a window are combined.' },
);

export const ReadingsQuerystring = Type.Object(
  {
    device: Type.Optional(Devices),
    prefix: Type.Optional({
      ...DevicePrefix,
      description:
        "Every stored device whose id starts with this and that the token's scope covers, instead of a device list.",
    }),
    metric: Type.Optional(Metrics),
    from: { ...Instant, description: `Start of the range, inclusive. ${Instant.description}` },
    to: { ...Instant, description: `End of the range, exclusive. ${Instant.description}` },
    limit: Type.Optional(Limit),
    cursor: Type.Optional(Cursor),
    format: Type.Optional(PointsFormat),
    all: Type.Optional(All),
  },
  { additionalProperties: false },
);
export type ReadingsQuerystring = Static<typeof ReadingsQuerystring>;

export const WindowsQuerystring = Type.Object(
  {
    ...ReadingsQuerystring.properties,
    windowMs: Type.Integer({
      minimum: 1,
      maximum: MAX_WINDOW_MS,
      description: 'Window length in milliseconds; windows are aligned to the epoch, or to the wall clock of `tz`.',
    }),
    aggregate: Type.Optional({ ...AggregateSchema, default: 'mean' }),
    group: Type.Optional(
      Type.Union([Type.Literal('device'), Type.Literal('fleet')], {
        default: 'device',
        description:
          'One series per device and metric (`device`, default), or one per metric over every device selected ' +
          '(`fleet`, named `<prefix>*`, or `*` for a device list): mean, min, max, sum or count of all their values ' +
          'in each window.',
      }),
    ),
    tz: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9_+/-]{1,64}$',
        description:
          'An IANA time zone (`Europe/Berlin`): windows are aligned to its wall clock instead of to UTC. A range ' +
          "in which the zone's UTC offset changes by other than a whole number of windows is refused.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type WindowsQuerystring = Static<typeof WindowsQuerystring>;

export const LatestQuerystring = Type.Object(
  { prefix: Type.Optional(DevicePrefix), metric: Type.Optional(Metrics), format: Type.Optional(Format) },
  { additionalProperties: false },
);
export type LatestQuerystring = Static<typeof LatestQuerystring>;

export const SeriesQuerystring = Type.Object(
  { prefix: Type.Optional(DevicePrefix), format: Type.Optional(Format) },
  { additionalProperties: false },
);
export type SeriesQuerystring = Static<typeof SeriesQuerystring>;

const Time = Type.Integer({ description: 'Milliseconds since the epoch.' });

/** One stored value. */
const PointSchema = Type.Object({
  device: Type.String(),
  metric: Type.String(),
  ts: Time,
  value: Type.Number(),
});

const NextCursor = Type.Optional(
  Type.String({ description: 'Present when more items follow: pass it back as `cursor` to get them.' }),
);

export const ReadingsResponse = Type.Object({
  from: Time,
  to: Time,
  items: Type.Array(PointSchema, { description: 'Ordered by device, metric, ts.' }),
  nextCursor: NextCursor,
});
export type ReadingsResponse = Static<typeof ReadingsResponse>;

/** One window: a stored value's fields, `ts` the window start, and how much of the window the range covers. */
const WindowSchema = Type.Object({
  ...PointSchema.properties,
  coverage: Type.Number({
    minimum: 0,
    maximum: 1,
    description: 'The share of the window inside [from, to): 1, except for a first or last window that the range cuts.',
  }),
});

export const WindowsResponse = Type.Object({
  from: Time,
  to: Time,
  windowMs: Type.Integer(),
  aggregate: AggregateSchema,
  tz: Type.Optional(Type.String({ description: 'The time zone the windows are aligned to, when asked for.' })),
  items: Type.Array(WindowSchema, {
    description:
      'One item per window that holds values, ordered by device, metric, window start; ts is the window start.',
  }),
  nextCursor: NextCursor,
});
export type WindowsResponse = Static<typeof WindowsResponse>;

export const LatestResponse = Type.Object({
  items: Type.Array(PointSchema, { description: 'The newest value of each device and metric.' }),
});
export type LatestResponse = Static<typeof LatestResponse>;

/** One (device, metric) stored, with when it was last seen. */
const SeriesSchema = Type.Object({ device: Type.String(), metric: Type.String(), lastSeen: Time });

export const SeriesResponse = Type.Object({
  items: Type.Array(SeriesSchema, { description: 'Every device and metric stored, ordered by device, metric.' }),
});
export type SeriesResponse = Static<typeof SeriesResponse>;

/** The body of every error answer (see `ingest/error-reply.ts`). */
export const ErrorResponse = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), retryable: Type.Boolean() }),
});
export type ErrorResponse = Static<typeof ErrorResponse>;
