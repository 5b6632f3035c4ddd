import { acksTopic, errorsTopic, messagesTopic } from '../../src/protocol/topics.js';

/**
 * Which topics a connected device may use on the embedded broker
 * (docs/PROTOCOL.md §MQTT): it publishes only to its own messages topic and
 * subscribes only to its own errors and acks topics, spelled out in full (no wildcards).
 */
export function mayPublishTo(device: string, topic: string): boolean {
  return topic === messagesTopic(device);
}

/** Whether `device` may subscribe with `filter`: only its own errors or acks topic, exactly. */
export function maySubscribeTo(device: string, filter: string): boolean {
  return filter === errorsTopic(device) || filter === acksTopic(device);
}

/**
 * Whether a routed PUBLISH may be delivered to `device`: only what the node
 * published itself (no originating client) on the device's own errors or acks
 * topic. A second guard behind {@link maySubscribeTo}.
 */
export function mayDeliverTo(device: string, topic: string, fromClient: string | undefined): boolean {
  return fromClient === undefined && maySubscribeTo(device, topic);
}
