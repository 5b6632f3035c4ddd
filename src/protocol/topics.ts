import { isDeviceId } from './names.js';

/**
 * The MQTT topic scheme (docs/PROTOCOL.md §MQTT). A device publishes signed
 * messages to its own messages topic and may subscribe only to its own errors topic.
 */
const TOPIC_ROOT = 'devices';

/** Where `device` publishes signed messages: `devices/{device}/messages`. */
export function messagesTopic(device: string): string {
  return `${TOPIC_ROOT}/${device}/messages`;
}

/** Where the node publishes error notices for `device`: `devices/{device}/errors`. */
export function errorsTopic(device: string): string {
  return `${TOPIC_ROOT}/${device}/errors`;
}

/** The filter an ingest node subscribes with on an external broker (without the $share prefix). */
export const ALL_MESSAGES_FILTER = `${TOPIC_ROOT}/+/messages`;

/** The device a messages topic belongs to, or undefined when `topic` is not one. */
export function deviceOfMessagesTopic(topic: string): string | undefined {
  const parts = topic.split('/');
  if (parts.length !== 3 || parts[0] !== TOPIC_ROOT || parts[2] !== 'messages') return undefined;
  return isDeviceId(parts[1]) ? parts[1] : undefined;
}

/** The JSON body of an error notice on a device's errors topic. */
export interface ErrorNotice {
  /** The rejected message's seq when it could be read from a verified payload, else null. */
  readonly seq: number | null;
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  /** Seconds to wait before resending, for retryable errors. */
  readonly retryAfter?: number;
}

/**
 * Where the node publishes end-to-end acknowledgements for `device`: `devices/{device}/acks`
 * (docs/PROTOCOL.md §10.3). An acknowledgement there means stored, whichever broker carried it.
 */
export function acksTopic(device: string): string {
  return `${TOPIC_ROOT}/${device}/acks`;
}
