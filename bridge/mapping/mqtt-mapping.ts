import type { MappedInput } from './device-reading.js';

/** How the bridge reads one family of devices from the local broker. */
export interface MqttMapping {
  /** `tasmota`, `shelly`, `zigbee2mqtt`, or `rule <n>` for a generic rule. */
  readonly name: string;
  /** The filters the bridge subscribes to for this mapping. */
  readonly filters: readonly string[];
  /** The readings a message on `topic` carries; undefined when the topic is not this mapping's. */
  map(topic: string, payload: Uint8Array): MappedInput | undefined;
}

/** The levels a topic filter's wildcards matched (`+` one each, `#` the rest joined), or undefined when it does not match. */
export function matchTopic(filter: string, topic: string): string[] | undefined {
  const want = filter.split('/');
  const have = topic.split('/');
  const captured: string[] = [];
  for (const [i, level] of want.entries()) {
    if (level === '#') {
      captured.push(have.slice(i).join('/'));
      return captured;
    }
    const actual = have[i];
    if (actual === undefined) return undefined;
    if (level === '+') captured.push(actual);
    else if (level !== actual) return undefined;
  }
  return have.length === want.length ? captured : undefined;
}
