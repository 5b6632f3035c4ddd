import type { Aedes, AedesOptions, AuthErrorCode } from 'aedes';
import { asTelemetryError, TelemetryError } from '../../src/errors.js';
import type { BrokerContext, ConnectionTokenRules } from './broker-context.js';
import { authenticateDevice } from './device-auth.js';
import { DeviceSession } from './device-session.js';
import { errorNotice } from './error-notice.js';
import { connackReturnCode } from './mqtt-codes.js';

/**
 * aedes' preConnect: client ids are prefixed with the (then verified) device id,
 * so one device cannot take over another's session; every session is clean and
 * wills are dropped, because the broker keeps no device state.
 */
export const preConnect: NonNullable<AedesOptions['preConnect']> = (_client, packet, callback) => {
  packet.clientId = `${packet.username ?? ''}:${packet.clientId}`;
  packet.clean = true;
  packet.will = undefined;
  callback(null, true);
};

/**
 * aedes' authenticate: the password is a connection token the device signed
 * (docs/PROTOCOL.md §4.3). A verified connection becomes a DeviceSession that
 * ends when the token expires; a refused one gets the CONNACK code of its error.
 */
export function authenticateHook(
  context: BrokerContext,
  rules: ConnectionTokenRules,
  broker: () => Aedes,
): NonNullable<AedesOptions['authenticate']> {
  const { deps, log } = context;
  return (client, username, password, callback) => {
    const refuse = (error: TelemetryError): void => {
      context.count(error.code);
      log?.debug({ transport: 'mqtt', device: username, code: error.code }, 'mqtt connection refused');
      const returnCode = connackReturnCode(error.code) as AuthErrorCode;
      deps.metrics.connectionRefused(error.code, returnCode);
      callback(Object.assign(new Error(error.code), { returnCode }), null);
    };
    if (context.closing || deps.draining()) {
      return refuse(new TelemetryError('ERR_SHUTTING_DOWN', 'the node is shutting down'));
    }
    authenticateDevice(username, password, { ...rules, now: deps.now() }).then(
      (connection) => {
        if (client.closed) return callback(null, false);
        const session = new DeviceSession(broker(), client, connection.device);
        context.sessions.set(client, session);
        deps.metrics.mqttConnections.inc();
        client.conn.once('close', () => deps.metrics.mqttConnections.dec());
        session.expireAt(connection.expiresAt, deps.now(), () => {
          void session.close(errorNotice(new TelemetryError('ERR_TOKEN_EXPIRED', 'the connection token expired')));
        });
        callback(null, true);
      },
      (error: unknown) => refuse(asTelemetryError(error, 'ERR_INTERNAL')),
    );
  };
}
