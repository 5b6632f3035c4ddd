import { ERROR_POLICIES, type ErrorCode, type MqttErrorCode } from '../../src/errors.js';

/** What an MQTT transport does with a message or connection that failed with a code. */
export type MqttBehaviour =
  /** PUBACK it (it is never worth resending), publish a notice on the device's error topic, count it. */
  | 'reject'
  /** Withhold the PUBACK so the device resends it later; publish a notice. */
  | 'retry'
  /** Notice, then close the connection: the connection itself is not trustworthy. */
  | 'disconnect';

/**
 * Each device-facing code's MQTT behaviour (docs/PROTOCOL.md §11 shows it beside
 * the HTTP status). A retryable code is always 'retry': withholding the PUBACK is
 * how MQTT says "send it again" [MQTT-4.4.0-1].
 */
export const MQTT_BEHAVIOUR: Readonly<Record<MqttErrorCode, MqttBehaviour>> = {
  ERR_MESSAGE_TOO_LARGE: 'reject',
  ERR_MESSAGE_MALFORMED: 'reject',
  ERR_UNSUPPORTED_MEDIA_TYPE: 'reject',
  ERR_HEADER_INVALID: 'reject',
  ERR_ALG_NOT_ALLOWED: 'reject',
  ERR_UNKNOWN_KEY: 'reject',
  ERR_SIGNATURE_INVALID: 'reject',
  ERR_CREDENTIAL_INVALID: 'reject',
  ERR_CREDENTIAL_EXPIRED: 'reject',
  ERR_DEVICE_MISMATCH: 'disconnect',
  ERR_PAYLOAD_MALFORMED: 'reject',
  ERR_PAYLOAD_INVALID: 'reject',
  ERR_NAME_INVALID: 'reject',
  ERR_TOO_MANY_READINGS: 'reject',
  ERR_TOO_MANY_VALUES: 'reject',
  ERR_TIMESTAMP_OUT_OF_RANGE: 'reject',
  ERR_TIMESTAMP_UNIT: 'reject',
  ERR_TOKEN_INVALID: 'disconnect',
  ERR_TOKEN_EXPIRED: 'disconnect',
  ERR_TOPIC_FORBIDDEN: 'disconnect',
  ERR_RATE_LIMITED: 'retry',
  ERR_OVERLOADED: 'retry',
  ERR_STORE_UNAVAILABLE: 'retry',
  ERR_STORE_REJECTED: 'reject',
  ERR_INTERNAL: 'retry',
  ERR_SHUTTING_DOWN: 'retry',
};

/** The MQTT behaviour of `code`; an HTTP-only code never reaches MQTT, and would be rejected. */
export function mqttBehaviour(code: ErrorCode): MqttBehaviour {
  return Object.hasOwn(MQTT_BEHAVIOUR, code) ? MQTT_BEHAVIOUR[code as MqttErrorCode] : 'reject';
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
