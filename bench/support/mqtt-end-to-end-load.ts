import type { MqttClient } from 'mqtt';
import { acksTopic, parseDeliveryAck } from '../../src/index.js';
import { PoolCursor } from './bench-fleet.js';
import type { MeasuredServer } from './bench-node.js';
import { type LoadWindow, WindowMarks } from './load-window.js';
import type { MqttDevice } from './mqtt-load.js';

export interface EndToEndSaturationOptions {
  readonly server: MeasuredServer;
  readonly devices: readonly MqttDevice[];
  /** `messages[i]`: the signed messages of `devices[i]`, in order (their seqs are unique per device). */
  readonly messages: readonly (readonly string[])[];
  /** Messages each device keeps waiting for the node's acknowledgement. */
  readonly windowPerDevice: number;
  readonly warmupS: number;
  readonly measureS: number;
  /** A device gives up on an acknowledgement after this long and sends its next message (counted as failed). */
  readonly ackTimeoutMs?: number;
}

/** The `seq` of a signed message, read from its payload (the bench signs them; no check needed here). */
function seqOf(jws: string): number {
  const payload = jws.split('.')[1] ?? '';
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { seq: number }).seq;
}

/**
 * Drives a node through an external broker as devices following docs/PROTOCOL.md §10.3 do: each publishes
 * QoS 1 to the broker and counts a message delivered only when the node's acknowledgement on its acks topic
 * names its seq, keeping `windowPerDevice` messages waiting at a time (closed loop, as `saturateMqtt` does with
 * the embedded broker's PUBACKs). A window after the warm-up is measured.
 */
export async function saturateMqttEndToEnd(options: EndToEndSaturationOptions): Promise<LoadWindow> {
  let acknowledged = 0;
  let failed = 0;
  let running = true;
  const ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
  const cursors = options.devices.map((_, i) => new PoolCursor(options.messages[i] ?? []));
  const waiting = options.devices.map(() => new Map<number, NodeJS.Timeout>());
  const publish = (d: number): void => {
    const device = options.devices[d] as MqttDevice;
    const jws = (cursors[d] as PoolCursor).next();
    const seq = seqOf(jws);
    const timers = waiting[d] as Map<number, NodeJS.Timeout>;
    clearTimeout(timers.get(seq));
    timers.set(
      seq,
      setTimeout(() => {
        timers.delete(seq);
        failed++;
        if (running) publish(d);
      }, ackTimeoutMs),
    );
    device.client.publish(device.topic, jws, { qos: 1 });
  };
  await Promise.all(
    options.devices.map(async (device, d) => {
      const timers = waiting[d] as Map<number, NodeJS.Timeout>;
      device.client.on('message', (_topic, payload) => {
        for (const seq of parseDeliveryAck(payload)?.seqs ?? []) {
          const timer = timers.get(seq);
          if (timer === undefined) continue;
          clearTimeout(timer);
          timers.delete(seq);
          acknowledged++;
          if (running) publish(d);
        }
      });
      await (device.client as MqttClient).subscribeAsync(acksTopic(device.device), { qos: 0 });
    }),
  );
  const marks = new WindowMarks(options.server, () => ({ acknowledged, failed }));
  options.devices.forEach((_, d) => {
    for (let w = 0; w < options.windowPerDevice; w++) publish(d);
  });
  await marks.schedule(options.warmupS, options.measureS);
  running = false;
  for (const timers of waiting) for (const timer of timers.values()) clearTimeout(timer);
  return marks.result(cursors.reduce((sum, c) => sum + c.wraps, 0));
}
