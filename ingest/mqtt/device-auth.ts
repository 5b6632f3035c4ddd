import { TelemetryError } from '../../src/errors.js';
import { type VerifiedConnection, verifyConnectionToken } from '../../src/protocol/connection-token.js';
import type { DeviceKeySource } from '../../src/protocol/trusted-key.js';

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
