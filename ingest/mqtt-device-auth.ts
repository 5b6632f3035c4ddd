import { ERROR_POLICIES, type ErrorCode, TelemetryError } from '../src/errors.js';
import type { DeviceKeySource } from '../src/keys/trusted-key.js';
import { type VerifiedConnection, verifyConnectionToken } from '../src/protocol/connection-token.js';

export interface DeviceAuthOptions {
  readonly keys: DeviceKeySource;
  readonly tokenAudience: string;
  readonly maxTokenLifetimeSeconds: number;
  readonly clockSkewSeconds: number;
  /** The node's clock, ms since the epoch. */
  readonly now: number;
}

/**
 * Authenticates an MQTT CONNECT: the user name is the device id, the password
 * a connection token signed by that device's key. Throws a TelemetryError.
 *
 * @example
 * const { device, expiresAt } = await authenticateDevice('sensor-1', password, { keys, ...settings, now: Date.now() });
 */
export async function authenticateDevice(
  username: string | undefined,
  password: Buffer | undefined,
  options: DeviceAuthOptions,
): Promise<VerifiedConnection> {
  if (username === undefined || username === '' || password === undefined || password.length === 0) {
    throw new TelemetryError('ERR_TOKEN_INVALID', 'CONNECT needs the device id as user name and a token as password');
  }
  const connection = await verifyConnectionToken(password.toString('utf8'), {
    keys: options.keys,
    audience: options.tokenAudience,
    now: options.now,
    clockSkewSeconds: options.clockSkewSeconds,
    maxLifetimeSeconds: options.maxTokenLifetimeSeconds,
  });
  if (connection.device !== username) {
    throw new TelemetryError('ERR_DEVICE_MISMATCH', 'the token is signed for another device than the user name');
  }
  return connection;
}

/** Codes that say the token itself is bad: CONNACK 4, "bad user name or password". */
const BAD_TOKEN_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_TOKEN_INVALID',
  'ERR_TOKEN_EXPIRED',
  'ERR_SIGNATURE_INVALID',
  'ERR_ALG_NOT_ALLOWED',
  'ERR_HEADER_INVALID',
]);

/** A refused CONNACK's return code (MQTT 3.1.1 §3.2.2.3). */
export type RefusalReturnCode = 3 | 4 | 5;

/**
 * The CONNACK return code for a failed CONNECT: 4 (bad user name or password)
 * for a bad or expired token, 3 (server unavailable) when the node cannot
 * decide now (draining, key source down), 5 (not authorized) otherwise.
 */
export function connackReturnCode(code: ErrorCode): RefusalReturnCode {
  if (BAD_TOKEN_CODES.has(code)) return 4;
  if (ERROR_POLICIES[code].retryable) return 3;
  return 5;
}
