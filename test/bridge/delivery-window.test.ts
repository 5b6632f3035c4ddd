import { describe, expect, it } from 'vitest';
import { DeliveryWindow, deliveryMark } from '../../bridge/state/delivery-window.js';

const mark = (packetId: number, topic = 'zigbee2mqtt/kitchen', payload = '{"temperature":21}') =>
  deliveryMark(packetId, topic, Buffer.from(payload));

describe('deliveryMark', () => {
  it('tells messages apart by topic and payload, and cannot shift one into the other', () => {
    expect(mark(1)).toEqual(mark(1));
    expect(mark(1).digest).not.toBe(mark(1, 'zigbee2mqtt/hall').digest);
    expect(mark(1).digest).not.toBe(mark(1, undefined, '{"temperature":22}').digest);
    expect(mark(1, 'a', 'bc').digest).not.toBe(mark(1, 'ab', 'c').digest);
    expect(mark(1).digest).toHaveLength(22);
  });
});

describe('DeliveryWindow', () => {
  it('holds a mark only with the same packet id and the same digest', () => {
    const window = new DeliveryWindow(10);
    window.add(mark(1));
    expect(window.holds(mark(1))).toBe(true);
    expect(window.holds(mark(2))).toBe(false);
    expect(window.holds(mark(1, 'zigbee2mqtt/hall'))).toBe(false);
  });

  it('keeps one mark per packet id: the newest message with that id replaces the older', () => {
    const window = new DeliveryWindow(10);
    window.add(mark(1));
    window.add(mark(1, 'zigbee2mqtt/hall'));
    expect([window.holds(mark(1)), window.holds(mark(1, 'zigbee2mqtt/hall')), window.size]).toEqual([false, true, 1]);
  });

  it('forgets the oldest marks beyond its capacity, counting a replaced one as new', () => {
    const window = new DeliveryWindow(3);
    for (const id of [1, 2, 3, 1, 4]) window.add(mark(id));
    expect([...window.marks()].map((m) => m.packetId)).toEqual([3, 1, 4]);
    window.forget(1);
    expect([...window.marks()].map((m) => m.packetId)).toEqual([3, 4]);
  });
});
