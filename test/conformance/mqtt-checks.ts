/**
 * What a device sees of a refused message on MQTT, and what it must see for a row of docs/PROTOCOL.md §11:
 * the notice on devices/{id}/errors (its code, `retryable`, and `retryAfter` exactly when retryable), and then
 * the PUBACK (reject) or the connection closing without one (retry, disconnect).
 */
import type { MqttClient } from 'mqtt';
import { expect } from 'vitest';
import { errorsTopic } from '../../src/index.js';
import type { ErrorRow } from './error-table.js';

export interface Seen {
  /** In order: 'notice' for each notice, 'puback' when the publish was acknowledged, 'close'. */
  readonly events: string[];
  readonly notices: Array<Record<string, unknown>>;
}

/** Subscribes `client` to its device's errors topic and records what it sees from then on. */
export async function watch(client: MqttClient, device: string, qos: 0 | 1 = 1): Promise<Seen> {
  const seen: Seen = { events: [], notices: [] };
  client.on('message', (_topic, payload) => {
    seen.notices.push(JSON.parse(payload.toString()));
    seen.events.push('notice');
  });
  client.on('close', () => seen.events.push('close'));
  const granted = await client.subscribeAsync(errorsTopic(device), { qos });
  expect(granted[0]?.qos).toBe(qos);
  return seen;
}

export async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in time`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A notice as the row says: its code, `retryable`, and `retryAfter` (whole seconds) exactly when retryable. */
export function expectNotice(notice: Record<string, unknown> | undefined, row: ErrorRow): void {
  expect(notice).toEqual({
    seq: notice?.seq === null ? null : expect.any(Number),
    code: row.code,
    message: expect.any(String),
    retryable: row.retryable,
    ...(row.retryable ? { retryAfter: expect.any(Number) } : {}),
  });
}

/**
 * Publishes `payload` to `topic` at QoS 1 and checks what follows against the row's MQTT column: reject is a
 * notice, then the PUBACK, and the connection stays open; retry and disconnect are a notice, then the
 * connection closes, with no PUBACK.
 */
export async function expectMqttRefusal(
  client: MqttClient,
  seen: Seen,
  topic: string,
  payload: string | Buffer,
  row: ErrorRow,
): Promise<void> {
  client.publish(topic, payload, { qos: 1 }, (error) => {
    if (error === undefined || error === null) seen.events.push('puback');
  });
  if (row.mqtt === 'reject') {
    await until(() => seen.events.includes('puback'), 'the PUBACK');
    expect(seen.events).toEqual(['notice', 'puback']);
    expect(client.connected).toBe(true);
  } else {
    await until(() => seen.events.includes('close'), 'the connection to close');
    // A PUBACK sent just before the close would have arrived by now: the close is read after it.
    expect(seen.events).toEqual(['notice', 'close']);
  }
  expectNotice(seen.notices[0], row);
}
