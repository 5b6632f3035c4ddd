/**
 * Every way a message, a connection, a write or a query can fail, each with a
 * stable code. The table {@link ERROR_POLICIES} is the one place that maps a
 * code to its HTTP status and whether retrying can help; what an MQTT
 * transport does with a code is that transport's (ingest/mqtt/mqtt-codes.ts).
 */

export interface ErrorPolicy {
  readonly status: number;
  /** Whether the same message may succeed if sent again later. */
  readonly retryable: boolean;
  readonly summary: string;
}

/** The error table. docs/PROTOCOL.md reproduces it, with each code's MQTT behaviour; a test keeps the two equal. */
export const ERROR_POLICIES = {
  ERR_MESSAGE_TOO_LARGE: {
    status: 413,
    retryable: false,
    summary: 'The message is larger than the node accepts.',
  },
  ERR_MESSAGE_MALFORMED: {
    status: 400,
    retryable: false,
    summary: 'Not a JWS in compact serialization, or its header is not valid JSON.',
  },
  ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    retryable: false,
    summary: 'The HTTP body has a content type the endpoint does not take.',
  },
  ERR_HEADER_INVALID: {
    status: 400,
    retryable: false,
    summary: 'The JWS header has a missing or bad member (kid, typ, crit, b64, ...).',
  },
  ERR_ALG_NOT_ALLOWED: {
    status: 401,
    retryable: false,
    summary: 'The alg is none, HMAC, unknown, or not the one the device key is registered for.',
  },
  ERR_UNKNOWN_KEY: {
    status: 401,
    retryable: false,
    summary: 'No trusted key has this kid (unknown device, or the key was removed).',
  },
  ERR_SIGNATURE_INVALID: {
    status: 401,
    retryable: false,
    summary: 'The signature does not verify with the trusted device key.',
  },
  ERR_CREDENTIAL_INVALID: {
    status: 401,
    retryable: false,
    summary: 'The device credential is malformed, not signed by a trusted issuer, or binds no usable key.',
  },
  ERR_CREDENTIAL_EXPIRED: {
    status: 401,
    retryable: false,
    summary: 'The device credential is expired or not yet valid.',
  },
  ERR_DEVICE_MISMATCH: {
    status: 403,
    retryable: false,
    summary: 'The payload, topic or connection names a device other than the one whose key signed it.',
  },
  ERR_PAYLOAD_MALFORMED: {
    status: 400,
    retryable: false,
    summary: 'The payload is not I-JSON: bad JSON, duplicate member names, too deep, or a number out of range.',
  },
  ERR_PAYLOAD_INVALID: {
    status: 422,
    retryable: false,
    summary: 'The payload does not match the message schema.',
  },
  ERR_NAME_INVALID: {
    status: 422,
    retryable: false,
    summary: 'A device or metric name is too long or has characters outside the allowed set.',
  },
  ERR_TOO_MANY_READINGS: {
    status: 413,
    retryable: false,
    summary: 'The message holds more readings than the node accepts.',
  },
  ERR_TOO_MANY_VALUES: {
    status: 422,
    retryable: false,
    summary: 'A reading holds more values than the node accepts.',
  },
  ERR_TIMESTAMP_OUT_OF_RANGE: {
    status: 422,
    retryable: false,
    summary: 'A reading is older than the maximum age or too far in the future.',
  },
  ERR_TIMESTAMP_UNIT: {
    status: 422,
    retryable: false,
    summary: 'A timestamp looks like seconds, microseconds or nanoseconds, not milliseconds.',
  },
  ERR_TOKEN_INVALID: {
    status: 401,
    retryable: false,
    summary:
      'The connection token is missing or not a connect+jwt, or a claim is missing, of the wrong type, or names another audience or device (a bad signature is ERR_SIGNATURE_INVALID).',
  },
  ERR_TOKEN_EXPIRED: {
    status: 401,
    retryable: false,
    summary: 'The connection token is expired, not yet valid, or lives longer than allowed.',
  },
  ERR_TOPIC_FORBIDDEN: {
    status: 403,
    retryable: false,
    summary:
      "Publishing to a topic other than the device's own messages topic (a refused subscription gets SUBACK 0x80 instead).",
  },
  ERR_RATE_LIMITED: {
    status: 429,
    retryable: true,
    summary: 'The device sends faster than its per-node rate limit.',
  },
  ERR_OVERLOADED: {
    status: 503,
    retryable: true,
    summary: 'The node holds as many readings in flight as it may; try again after Retry-After.',
  },
  ERR_STORE_UNAVAILABLE: {
    status: 503,
    retryable: true,
    summary: 'The store did not accept the write; nothing was acknowledged.',
  },
  ERR_STORE_REJECTED: {
    status: 422,
    retryable: false,
    summary: 'The store refused the readings themselves (for example a type conflict).',
  },
  ERR_INTERNAL: {
    status: 500,
    retryable: true,
    summary: 'The node failed unexpectedly; nothing was acknowledged.',
  },
  ERR_SHUTTING_DOWN: {
    status: 503,
    retryable: true,
    summary: 'The node is draining; send it to another node.',
  },
  ERR_NOT_FOUND: {
    status: 404,
    retryable: false,
    summary: 'No such route: the node serves no such path with this method (HTTP only).',
  },
  ERR_REQUEST_TIMEOUT: {
    status: 408,
    retryable: true,
    summary: 'The request head or body did not arrive in time; nothing was stored (HTTP only).',
  },
  ERR_QUERY_INVALID: {
    status: 400,
    retryable: false,
    summary: 'A query parameter is missing, malformed or out of range (query API only).',
  },
  ERR_CURSOR_INVALID: {
    status: 400,
    retryable: false,
    summary: 'The paging cursor is malformed or belongs to another query (query API only).',
  },
  ERR_UNAUTHORIZED: {
    status: 401,
    retryable: false,
    summary:
      'No operator token, or one that is expired, tampered, from an untrusted issuer or not an operator token (query API only).',
  },
  ERR_FORBIDDEN: {
    status: 403,
    retryable: false,
    summary: "The operator token's scope does not cover a device the query names (query API only).",
  },
} as const satisfies Record<string, ErrorPolicy>;

export type ErrorCode = keyof typeof ERROR_POLICIES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_POLICIES, value);
}

/** Codes only HTTP answers with (unknown routes and the query API): never sent over MQTT. */
export const HTTP_ONLY_CODES = [
  'ERR_NOT_FOUND',
  'ERR_REQUEST_TIMEOUT',
  'ERR_QUERY_INVALID',
  'ERR_CURSOR_INVALID',
  'ERR_UNAUTHORIZED',
  'ERR_FORBIDDEN',
] as const;

/** A code an MQTT transport can send: every code but {@link HTTP_ONLY_CODES}. */
export type MqttErrorCode = Exclude<ErrorCode, (typeof HTTP_ONLY_CODES)[number]>;

export interface TelemetryErrorOptions {
  readonly cause?: unknown;
  /** Seconds after which a retry may succeed (sent as Retry-After). */
  readonly retryAfter?: number;
}

/** Base of every error this service raises on purpose. */
export class TelemetryError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: TelemetryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TelemetryError';
    this.code = code;
    this.retryAfterSeconds = options.retryAfter;
  }

  get status(): number {
    return ERROR_POLICIES[this.code].status;
  }

  /** Whether sending the same message again later can succeed. */
  canRetry(): boolean {
    return ERROR_POLICIES[this.code].retryable;
  }

  /** Seconds to wait before a retry, when known. */
  retryAfter(): number | undefined {
    return this.retryAfterSeconds;
  }
}

/** How a {@link ConfigError} reads: its first line, and what it was raised from. */
export interface ConfigErrorOptions {
  /** The first line, before the problems; "invalid configuration" unless given. */
  readonly heading?: string;
  readonly cause?: unknown;
}

/**
 * Raised when configuration is invalid, or names something the node cannot use
 * at start (a missing file, a port in use); lists every problem at once, each
 * naming its setting. The command exits 78 (EX_CONFIG) with it.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options: ConfigErrorOptions = {}) {
    super(
      `${options.heading ?? 'invalid configuration'}:\n  - ${problems.join('\n  - ')}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Wraps anything thrown into a TelemetryError, keeping ours as they are. */
export function asTelemetryError(error: unknown, fallback: ErrorCode): TelemetryError {
  if (error instanceof TelemetryError) return error;
  return new TelemetryError(fallback, 'unexpected failure', { cause: error });
}
