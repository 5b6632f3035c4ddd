import type { AedesOptions, Subscription } from 'aedes';
import { acksTopic } from '../../src/protocol/topics.js';
import type { BrokerContext } from './broker-context.js';
import { mayDeliverTo, maySubscribeTo } from './topic-rules.js';

/**
 * aedes' authorizeSubscribe: a device subscribes only to its own errors and acks
 * topics, at QoS 1 at most; subscribing to its acks topic turns its end-to-end
 * acknowledgements on.
 */
export function authorizeSubscribeHook(context: BrokerContext): NonNullable<AedesOptions['authorizeSubscribe']> {
  return (client, subscription, callback) => {
    const session = context.sessions.get(client);
    if (session !== undefined && maySubscribeTo(session.device, subscription.topic)) {
      const granted: Subscription = { ...subscription, qos: Math.min(subscription.qos, 1) as 0 | 1 };
      if (subscription.topic === acksTopic(session.device)) session.wantAcks();
      return callback(null, granted);
    }
    context.count('ERR_TOPIC_FORBIDDEN');
    context.log?.debug(
      { transport: 'mqtt', device: session?.device, code: 'ERR_TOPIC_FORBIDDEN' },
      'mqtt subscription refused',
    );
    callback(null, null);
  };
}

/** aedes' authorizeForward: a device receives only the node's own notices on its errors topic. */
export function authorizeForwardHook(context: BrokerContext): NonNullable<AedesOptions['authorizeForward']> {
  return (client, packet) => {
    const session = context.sessions.get(client);
    // aedes sets clientId on what a client published; the node's own notices have none.
    const from = (packet as { clientId?: string }).clientId;
    return session !== undefined && mayDeliverTo(session.device, packet.topic, from) ? packet : null;
  };
}
