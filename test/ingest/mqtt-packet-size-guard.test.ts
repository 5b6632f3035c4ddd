import { describe, expect, it } from 'vitest';
import { MqttPacketSizeGuard } from '../../ingest/mqtt/packet-size-guard.js';

describe('MqttPacketSizeGuard', () => {
  it('reports the first packet whose declared length is over the cap, across chunks', () => {
    const guard = new MqttPacketSizeGuard(200);
    // PINGREQ, then a PUBLISH of 100 bytes, then a PUBLISH declaring 300 (0xac 0x02) split between chunks.
    expect(guard.feed(Uint8Array.from([0xc0, 0x00, 0x30, 100]))).toBeUndefined();
    expect(guard.feed(new Uint8Array(100))).toBeUndefined();
    expect(guard.feed(Uint8Array.from([0x30, 0xac]))).toBeUndefined();
    expect(guard.feed(Uint8Array.from([0x02]))).toBe(300);
  });

  it('reports a remaining length longer than four bytes as malformed', () => {
    const guard = new MqttPacketSizeGuard(Number.MAX_SAFE_INTEGER);
    expect(guard.feed(Uint8Array.from([0x30, 0x80, 0x80, 0x80, 0x80]))).toBe(Number.POSITIVE_INFINITY);
  });
});
