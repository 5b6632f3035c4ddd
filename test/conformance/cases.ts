/**
 * How to provoke every code of docs/PROTOCOL.md §11 (and docs/QUERY.md), and on which transports: the
 * vectors' bad messages and tokens (test/vectors/*.json) where a code follows from the bytes alone, a node
 * condition (world.ts) where it follows from the node's state, and a request of its own otherwise. A transport
 * the table names for a code but where no client can provoke it is an exemption, with the reason.
 * coverage.test.ts checks both lists against the documents.
 */
import type { Transport } from './error-table.js';
import { type Condition, MESSAGE_VECTORS, TOKEN_VECTORS } from './world.js';

/** A request the HTTP suite makes on an ingest route. */
type HttpRequest = 'wrong-media-type' | 'no-such-route' | 'slow-body' | 'oversized-batch' | 'malformed-batch';

/** A query the query suite makes (docs/QUERY.md). */
type QueryRequest = 'missing-range' | 'foreign-cursor' | 'no-token' | 'device-outside-scope' | 'store-down';

type Provocation =
  /** Message bytes that are refused whatever the node's state, sent by (and on the MQTT topic of) `device`. */
  | { readonly kind: 'message'; readonly message: string; readonly device: string }
  /** A valid message, refused because of the node's state. */
  | { readonly kind: 'condition'; readonly condition: Condition }
  /** An MQTT CONNECT as `device` with this connection token as its password. */
  | { readonly kind: 'connect'; readonly token: string; readonly device: string }
  /** A connection whose token expires while it is open. */
  | { readonly kind: 'token-expiry' }
  /** A device publishing a valid message to another device's messages topic. */
  | { readonly kind: 'foreign-topic' }
  /** A valid message published to a messages topic whose device segment is not a device id. */
  | { readonly kind: 'unaddressable-topic' }
  | { readonly kind: 'http'; readonly request: HttpRequest }
  | { readonly kind: 'query'; readonly request: QueryRequest };

export interface ConformanceCase {
  readonly name: string;
  readonly code: string;
  readonly transports: readonly Transport[];
  readonly provoke: Provocation;
  /** On the batch route: answered in the message's own result ('entry'), or for the whole request. */
  readonly batch?: 'entry' | 'request';
  /**
   * External broker: the PUBACK reason code, where §10.2 names one other than pubackReasonCode's, and whether a
   * notice is published (false where §10.2 says there is no device to publish it to).
   */
  readonly puback?: number;
  readonly notice?: false;
}

export interface Exemption {
  readonly code: string;
  readonly transport: Transport;
  readonly reason: string;
}

const HTTP: readonly Transport[] = ['http-single', 'http-batch'];
const MQTT: readonly Transport[] = ['mqtt-embedded', 'mqtt-external'];
const INGEST: readonly Transport[] = [...HTTP, ...MQTT];

const REGISTERED = new Set(MESSAGE_VECTORS.registry.keys.flatMap((key) => (key.sub === undefined ? [] : [key.sub])));
const DEFAULT_DEVICE = 'sensor-es256';

/** A claim of a JWS payload or JWT, read without verifying it; undefined when unreadable. */
function claim(compact: string, name: 'device' | 'sub'): string | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(compact.split('.')[1] ?? '', 'base64url').toString())[name];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The registered device a vector comes from: its topic's, else its payload's, else the default one. */
function deviceOf(compact: string, context?: { readonly expectedDevice: string }): string {
  const named = context?.expectedDevice ?? claim(compact, 'sub') ?? claim(compact, 'device');
  return named !== undefined && REGISTERED.has(named) ? named : DEFAULT_DEVICE;
}

/** Every refused message vector, on every ingest transport (those naming an MQTT topic on MQTT only). */
const messageCases: ConformanceCase[] = MESSAGE_VECTORS.cases.flatMap((vector) =>
  vector.expect.ok
    ? []
    : [
        {
          name: `vector "${vector.name}"`,
          code: vector.expect.error,
          transports: vector.context === undefined ? INGEST : MQTT,
          provoke: { kind: 'message', message: vector.message, device: deviceOf(vector.message, vector.context) },
          batch: 'entry',
        } satisfies ConformanceCase,
      ],
);

/** Every refused connection-token vector, as the password of an embedded-broker CONNECT. */
const tokenCases: ConformanceCase[] = TOKEN_VECTORS.cases.flatMap((vector) =>
  vector.expect.ok
    ? []
    : [
        {
          name: `token vector "${vector.name}" in a CONNECT`,
          code: vector.expect.error,
          transports: ['mqtt-embedded'],
          provoke: { kind: 'connect', token: vector.token, device: deviceOf(vector.token) },
        } satisfies ConformanceCase,
      ],
);

const condition = (code: string, name: string, which: Condition, batch: 'entry' | 'request' = 'entry') =>
  ({ name, code, transports: INGEST, provoke: { kind: 'condition', condition: which }, batch }) as const;
const http = (code: string, name: string, request: HttpRequest, transports = HTTP) =>
  ({ name, code, transports, provoke: { kind: 'http', request }, batch: 'request' }) as const;
const query = (code: string, name: string, request: QueryRequest) =>
  ({ name, code, transports: ['query'], provoke: { kind: 'query', request } }) as const;

export const CASES: readonly ConformanceCase[] = [
  ...messageCases,
  ...tokenCases,
  condition('ERR_RATE_LIMITED', 'a device past its per-node rate limit', 'rate-limited'),
  condition('ERR_OVERLOADED', 'a message while the in-flight cap is full', 'overloaded'),
  condition('ERR_STORE_UNAVAILABLE', 'a message while the store is down', 'store-unavailable'),
  condition('ERR_STORE_REJECTED', 'a message whose readings the store refuses', 'store-rejected'),
  condition('ERR_INTERNAL', 'a message the node fails on unexpectedly (its key source throws)', 'internal-failure'),
  // A draining node answers every HTTP request but health, readiness and metrics with 503, batches included.
  condition('ERR_SHUTTING_DOWN', 'a message while the node drains', 'draining', 'request'),
  {
    name: 'a connection whose token expires',
    code: 'ERR_TOKEN_EXPIRED',
    transports: ['mqtt-embedded'],
    provoke: { kind: 'token-expiry' },
  },
  {
    name: "a publish to another device's messages topic",
    code: 'ERR_TOPIC_FORBIDDEN',
    transports: ['mqtt-embedded'],
    provoke: { kind: 'foreign-topic' },
  },
  {
    name: 'a publish to a messages topic whose device segment is not a device id',
    code: 'ERR_TOPIC_FORBIDDEN',
    transports: ['mqtt-external'],
    provoke: { kind: 'unaddressable-topic' },
    // §10.2: such a message names no device, so it is acknowledged 0x90 (topic name invalid), with no notice.
    puback: 0x90,
    notice: false,
  },
  http('ERR_UNSUPPORTED_MEDIA_TYPE', 'a body of a content type the route does not take', 'wrong-media-type'),
  http('ERR_NOT_FOUND', 'a method the route does not serve', 'no-such-route'),
  http('ERR_REQUEST_TIMEOUT', 'a body that stops arriving', 'slow-body'),
  http('ERR_MESSAGE_TOO_LARGE', 'a batch of more than 1 000 messages', 'oversized-batch', ['http-batch']),
  http('ERR_MESSAGE_MALFORMED', 'a batch body that is not {"messages": [...]}', 'malformed-batch', ['http-batch']),
  query('ERR_QUERY_INVALID', 'readings without from and to', 'missing-range'),
  query('ERR_CURSOR_INVALID', 'a cursor of another query', 'foreign-cursor'),
  query('ERR_UNAUTHORIZED', 'a query without an operator token', 'no-token'),
  query('ERR_FORBIDDEN', 'readings of a device outside the token scope', 'device-outside-scope'),
  query('ERR_STORE_UNAVAILABLE', 'a query while the store is down', 'store-down'),
];

export const EXEMPTIONS: readonly Exemption[] = [
  ...MQTT.map((transport) => ({
    code: 'ERR_UNSUPPORTED_MEDIA_TYPE',
    transport,
    reason: 'an MQTT PUBLISH carries no content type: its payload is always taken as the compact JWS',
  })),
  ...['ERR_TOKEN_INVALID', 'ERR_TOKEN_EXPIRED'].flatMap((code) => [
    ...HTTP.map((transport) => ({
      code,
      transport,
      reason: 'HTTP has no connection token: every message is authenticated by its own signature',
    })),
    {
      code,
      transport: 'mqtt-external' as const,
      reason: 'devices authenticate to the external broker its own way: the node never sees a connection token',
    },
  ]),
  ...HTTP.map((transport) => ({
    code: 'ERR_TOPIC_FORBIDDEN',
    transport,
    reason: "HTTP has no topics: the routes take any device's message, which names its device itself",
  })),
];

/** The cases a suite runs: those for `transport`. */
export function casesFor(transport: Transport): ConformanceCase[] {
  return CASES.filter((c) => c.transports.includes(transport));
}
