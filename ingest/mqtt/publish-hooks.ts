import type { AedesOptions, PublishPacket } from 'aedes';
import { asTelemetryError, TelemetryError } from '../../src/errors.js';
import type { BrokerContext } from './broker-context.js';
import type { DeviceSession } from './device-session.js';
import { errorNotice } from './error-notice.js';
import { mqttBehaviour } from './mqtt-codes.js';
import { mayPublishTo } from './topic-rules.js';

/** After this many rejected messages in a row, the node closes the connection. */
const MAX_CONSECUTIVE_REJECTIONS = 10;

type AedesCallback = (error?: Error | null) => void;

/** What a handled publish is left holding: shared, since no byte of an empty buffer can be written. */
const EMPTY_PAYLOAD = Buffer.alloc(0);

/**
 * aedes' authorizePublish: a device publishes only to its own messages topic,
 * never retained; each accepted PUBLISH waits its connection's turn and goes
 * through the pipeline, and its callback (the PUBACK) runs only once it settled.
 */
export function authorizePublishHook(context: BrokerContext): NonNullable<AedesOptions['authorizePublish']> {
  return (client, packet, callback) => {
    const session = client === null ? undefined : context.sessions.get(client);
    if (session === undefined) return callback(new Error('publish from an unauthenticated client'));
    if (session.closing) return session.hold(callback);
    // [MQTT-3.3.1-5] would keep a retained message; the broker must never hold device data.
    packet.retain = false;
    if (!mayPublishTo(session.device, packet.topic)) {
      context.count('ERR_TOPIC_FORBIDDEN');
      context.log?.debug(
        { transport: 'mqtt', device: session.device, code: 'ERR_TOPIC_FORBIDDEN' },
        'mqtt message rejected',
      );
      session.hold(callback);
      const error = new TelemetryError('ERR_TOPIC_FORBIDDEN', 'a device publishes only to devices/{its id}/messages');
      void session.close(errorNotice(error));
      return;
    }
    const pacing = context.backpressure.get(session.client);
    if (pacing === undefined) return callback(new Error('publish on a connection the broker did not accept'));
    context.startedOne();
    const received = performance.now();
    pacing.run(() => handlePublish(context, session, packet, callback, received));
  };
}

/**
 * Runs one message through the pipeline; the aedes callback (PUBACK) runs only after it settled. `received`
 * (performance.now()) is when the PUBLISH was read, so the acknowledgement latency includes its wait for a turn.
 */
async function handlePublish(
  context: BrokerContext,
  session: DeviceSession,
  packet: PublishPacket,
  callback: AedesCallback,
  received: number,
): Promise<void> {
  try {
    const payload = packet.payload;
    // Once handled, the routed copy carries nothing: device data never stays in the broker.
    packet.payload = EMPTY_PAYLOAD;
    // It may have waited its turn while the node began closing the connection.
    if (session.closing) return session.hold(callback);
    if (context.closing) {
      context.count('ERR_SHUTTING_DOWN');
      const error = new TelemetryError('ERR_SHUTTING_DOWN', 'the node is shutting down', { retryAfter: 1 });
      return await refusePublish(context, session, callback, error, undefined);
    }
    const outcome = await context.deps.pipeline.handle(payload, { transport: 'mqtt', expectedDevice: session.device });
    if (!outcome.ok) return await refusePublish(context, session, callback, outcome.error, outcome.seq);
    session.accepted();
    if (session.closing) return session.hold(callback);
    callback(null);
    context.deps.metrics.acknowledged('mqtt', (performance.now() - received) / 1000);
    session.stored(outcome.message.seq);
  } catch (caught) {
    await refusePublish(context, session, callback, asTelemetryError(caught, 'ERR_INTERNAL'), undefined);
  } finally {
    context.settledOne();
  }
}

/** Turns a publish away as its code's MQTT behaviour says: notice + PUBACK, or notice + close without one. */
async function refusePublish(
  context: BrokerContext,
  session: DeviceSession,
  callback: AedesCallback,
  error: TelemetryError,
  seq: number | undefined,
): Promise<void> {
  context.log?.debug({ transport: 'mqtt', device: session.device, code: error.code }, 'mqtt message rejected');
  const notice = errorNotice(error, seq ?? null);
  if (session.closing) return session.hold(callback);
  if (mqttBehaviour(error.code) === 'reject') {
    // The message is consumed (resending cannot help): say why on the errors topic, then acknowledge it,
    // in that order on the wire, so a device has the notice before it forgets the message.
    const inARow = session.rejected();
    await session.notify(notice);
    if (session.closing) return session.hold(callback);
    callback(null);
    if (inARow >= MAX_CONSECUTIVE_REJECTIONS) void session.close();
    return;
  }
  // 'retry': no PUBACK, so the device resends after reconnecting [MQTT-4.4.0-1]; 'disconnect': never resend.
  session.hold(callback);
  await session.close(notice);
}
