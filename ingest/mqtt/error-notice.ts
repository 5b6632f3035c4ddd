import { ERROR_POLICIES, type TelemetryError } from '../../src/errors.js';
import { type ErrorNotice, errorsTopic } from '../../src/protocol/topics.js';

/** Seconds a device is told to wait before resending when the error does not say. */
const DEFAULT_RETRY_AFTER_SECONDS = 1;

/**
 * The notice a device receives on `devices/{id}/errors` when the node turns a
 * message or its connection away. `seq` is known only from a verified payload.
 *
 * @example
 * errorNotice(new TelemetryError('ERR_PAYLOAD_INVALID', 'no readings'), null);
 * // { seq: null, code: 'ERR_PAYLOAD_INVALID', message: 'no readings', retryable: false }
 */
export function errorNotice(error: TelemetryError, seq: number | null = null): ErrorNotice {
  const retryable = ERROR_POLICIES[error.code].retryable;
  const notice: ErrorNotice = { seq, code: error.code, message: error.message, retryable };
  if (!retryable) return notice;
  return { ...notice, retryAfter: error.retryAfter() ?? DEFAULT_RETRY_AFTER_SECONDS };
}

/** A PUBLISH the node sends itself: a notice on the device's errors topic, never retained. */
export interface NoticePacket {
  readonly cmd: 'publish';
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0;
  readonly retain: false;
  readonly dup: false;
}

/** The packet that carries `notice` to `device` (QoS 0: notices are advice, the connection may close next). */
export function noticePacket(device: string, notice: ErrorNotice): NoticePacket {
  return {
    cmd: 'publish',
    topic: errorsTopic(device),
    payload: Buffer.from(JSON.stringify(notice)),
    qos: 0,
    retain: false,
    dup: false,
  };
}
