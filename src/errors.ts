/**
 * Every way a message, a connection or a write can fail, each with a stable
 * code. The table {@link ERROR_POLICIES} is the one place that maps a code to
 * its HTTP status, its MQTT behaviour and whether retrying can help; the
 * transports and metrics read it and nothing else.
 */

/** What an MQTT transport does with a message that failed with a code. */
export type MqttBehaviour =
  /** PUBACK it (it is never worth resending), publish a notice on the device's error topic, count it. */
  | 'reject'
  /** Withhold the PUBACK so the device resends it later; publish a notice. */
  | 'retry'
  /** Notice, then close the connection: the connection itself is not trustworthy. */
  | 'disconnect';

export interface ErrorPolicy {
  readonly status: number;
  readonly mqtt: MqttBehaviour;
  /** Whether the same message may succeed if sent again later. */
  readonly retryable: boolean;
  readonly summary: string;
}

/** The error table. docs/PROTOCOL.md reproduces it; a test keeps the two equal. */
export const ERROR_POLICIES = {
  ERR_MESSAGE_TOO_LARGE: {
    status: 413,
    mqtt: 'reject',
    retryable: false,
    summary: 'The message is larger than the node accepts.',
  },
  ERR_MESSAGE_MALFORMED: {
    status: 400,
    mqtt: 'reject',
    retryable: false,
    summary: 'Not a JWS in compact serialization, or its header is not valid JSON.',
  },
  ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    mqtt: 'reject',
    retryable: false,
    summary: 'The HTTP body has a content type the endpoint does not take.',
  },
  ERR_HEADER_INVALID: {
    status: 400,
    mqtt: 'reject',
    retryable: false,
    summary: 'The JWS header has a missing or bad member (kid, typ, crit, b64, ...).',
  },
  ERR_ALG_NOT_ALLOWED: {
    status: 401,
    mqtt: 'reject',
    retryable: false,
    summary: 'The alg is none, HMAC, unknown, or not the one the device key is registered for.',
  },
  ERR_UNKNOWN_KEY: {
    status: 401,
    mqtt: 'reject',
    retryable: false,
    summary: 'No trusted key has this kid (unknown device, or the key was removed).',
  },
  ERR_SIGNATURE_INVALID: {
    status: 401,
    mqtt: 'reject',
    retryable: false,
    summary: 'The signature does not verify with the trusted device key.',
  },
  ERR_CREDENTIAL_INVALID: {
    status: 401,
    mqtt: 'reject',
    retryable: false,
    summary: 'The device credential is malformed, not signed by a trusted issuer, or binds no usable key.',
  },
  ERR_CREDENTIAL_EXPIRED: {
    status: 401,
    mqtt: 'reject',
    retryable: false,
    summary: 'The device credential is expired or not yet valid.',
  },
  ERR_DEVICE_MISMATCH: {
    status: 403,
    mqtt: 'disconnect',
    retryable: false,
    summary: 'The payload, topic or connection names a device other than the one whose key signed it.',
  },
  ERR_PAYLOAD_MALFORMED: {
    status: 400,
    mqtt: 'reject',
    retryable: false,
    summary: 'The payload is not I-JSON: bad JSON, duplicate member names, too deep, or a number out of range.',
  },
  ERR_PAYLOAD_INVALID: {
    status: 422,
    mqtt: 'reject',
    retryable: false,
    summary: 'The payload does not match the message schema.',
  },
  ERR_NAME_INVALID: {
    status: 422,
    mqtt: 'reject',
    retryable: false,
    summary: 'A device or metric name is too long or has characters outside the allowed set.',
  },
  ERR_TOO_MANY_READINGS: {
    status: 413,
    mqtt: 'reject',
    retryable: false,
    summary: 'The message holds more readings than the node accepts.',
  },
  ERR_TOO_MANY_VALUES: {
    status: 422,
    mqtt: 'reject',
    retryable: false,
    summary: 'A reading holds more values than the node accepts.',
  },
  ERR_TIMESTAMP_OUT_OF_RANGE: {
    status: 422,
    mqtt: 'reject',
    retryable: false,
    summary: 'A reading is older than the maximum age or too far in the future.',
  },
  ERR_TIMESTAMP_UNIT: {
    status: 422,
    mqtt: 'reject',
    retryable: false,
    summary: 'A timestamp looks like seconds, microseconds or nanoseconds, not milliseconds.',
  },
  ERR_TOKEN_INVALID: {
    status: 401,
    mqtt: 'disconnect',
    retryable: false,
    summary: 'The connection token is missing, malformed, badly signed, or for another audience.',
  },
  ERR_TOKEN_EXPIRED: {
    status: 401,
    mqtt: 'disconnect',
    retryable: false,
    summary: 'The connection token is expired, not yet valid, or lives longer than allowed.',
  },
  ERR_TOPIC_FORBIDDEN: {
    status: 403,
    mqtt: 'disconnect',
    retryable: false,
    summary: "Publishing or subscribing to a topic that is not the device's own.",
  },
  ERR_RATE_LIMITED: {
    status: 429,
    mqtt: 'retry',
    retryable: true,
    summary: 'The device sends faster than its per-node rate limit.',
  },
  ERR_OVERLOADED: {
    status: 503,
    mqtt: 'retry',
    retryable: true,
    summary: 'The node holds as many readings in flight as it may; try again after Retry-After.',
  },
  ERR_STORE_UNAVAILABLE: {
    status: 503,
    mqtt: 'retry',
    retryable: true,
    summary: 'The store did not accept the write; nothing was acknowledged.',
  },
  ERR_STORE_REJECTED: {
    status: 422,
    mqtt: 'reject',
    retryable: false,
    summary: 'The store refused the readings themselves (for example a type conflict).',
  },
  ERR_INTERNAL: {
    status: 500,
    mqtt: 'retry',
    retryable: true,
    summary: 'The node failed unexpectedly; nothing was acknowledged.',
  },
  ERR_SHUTTING_DOWN: {
    status: 503,
    mqtt: 'retry',
    retryable: true,
    summary: 'The node is draining; send it to another node.',
  },
  ERR_QUERY_INVALID: {
    status: 400,
    mqtt: 'reject',
    retryable: false,
    summary: 'A query parameter is missing, malformed or out of range (query API only).',
  },
  ERR_CURSOR_INVALID: {
    status: 400,
    mqtt: 'reject',
    retryable: false,
    summary: 'The paging cursor is malformed or belongs to another query (query API only).',
  },
  ERR_UNAUTHORIZED: {
    status: 401,
    mqtt: 'reject',
    retryable: false,
    summary:
      'No operator token, or one that is expired, tampered, from an untrusted issuer or not an operator token (query API only).',
  },
  ERR_FORBIDDEN: {
    status: 403,
    mqtt: 'reject',
    retryable: false,
    summary: "The operator token's scope does not cover a device the query names (query API only).",
  },
} as const satisfies Record<string, ErrorPolicy>;

export type ErrorCode = keyof typeof ERROR_POLICIES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_POLICIES, value);
}

/** Codes that say an MQTT connection token itself is bad. */
const BAD_TOKEN_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_TOKEN_INVALID',
  'ERR_TOKEN_EXPIRED',
  'ERR_SIGNATURE_INVALID',
  'ERR_ALG_NOT_ALLOWED',
  'ERR_HEADER_INVALID',
]);

/**
 * The CONNACK return code (MQTT 3.1.1 §3.2.2.3) for a CONNECT refused with `code`:
 * 4 (bad user name or password) for a bad or expired token, 3 (server unavailable)
 * when a retry can succeed (draining, overloaded), 5 (not authorized) otherwise.
 */
export function connackReturnCode(code: ErrorCode): 3 | 4 | 5 {
  if (BAD_TOKEN_CODES.has(code)) return 4;
  if (ERROR_POLICIES[code].retryable) return 3;
  return 5;
}

const NOT_AUTHORIZED_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_ALG_NOT_ALLOWED',
  'ERR_UNKNOWN_KEY',
  'ERR_SIGNATURE_INVALID',
  'ERR_CREDENTIAL_INVALID',
  'ERR_CREDENTIAL_EXPIRED',
  'ERR_DEVICE_MISMATCH',
  'ERR_TOKEN_INVALID',
  'ERR_TOKEN_EXPIRED',
  'ERR_TOPIC_FORBIDDEN',
]);
const MALFORMED_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_MESSAGE_MALFORMED',
  'ERR_HEADER_INVALID',
  'ERR_PAYLOAD_MALFORMED',
]);

/**
 * The MQTT 5 PUBACK reason code (§3.4.2.1) with which an external-broker
 * subscriber drops a message rejected with `code`: 0x87 not authorized,
 * 0x99 payload format invalid, else 0x83 implementation specific error.
 */
export function pubackReasonCode(code: ErrorCode): 0x83 | 0x87 | 0x99 {
  if (NOT_AUTHORIZED_CODES.has(code)) return 0x87;
  if (MALFORMED_CODES.has(code)) return 0x99;
  return 0x83;
}

export interface TelemetryErrorOptions {
  readonly cause?: unknown;
  /** Seconds after which a retry may succeed (sent as Retry-After). */
  readonly retryAfter?: number;
}

/** Base of every error this service raises on purpose. */
export class TelemetryError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;
  /** The `seq` of the message that failed, once its payload is authenticated (set by the pipeline). */
  seq: number | undefined;

  constructor(code: ErrorCode, message: string, options: TelemetryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TelemetryError';
    this.code = code;
    this.retryAfterSeconds = options.retryAfter;
  }

  get status(): number {
    return ERROR_POLICIES[this.code].status;
  }

  get mqtt(): MqttBehaviour {
    return ERROR_POLICIES[this.code].mqtt;
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

/** Raised when configuration is invalid; lists every bad setting at once. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Wraps anything thrown into a TelemetryError, keeping ours as they are. */
export function asTelemetryError(error: unknown, fallback: ErrorCode): TelemetryError {
  if (error instanceof TelemetryError) return error;
  return new TelemetryError(fallback, 'unexpected failure', { cause: error });
}
