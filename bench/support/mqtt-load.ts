import { connect, type MqttClient } from 'mqtt';
import { messagesTopic } from '../../src/index.js';
import { PoolCursor } from './bench-fleet.js';
import type { MeasuredServer } from './bench-node.js';
import { type LoadWindow, WindowMarks } from './load-window.js';

/** One connected device: its MQTT client and its own topic. */
export interface MqttDevice {
  readonly device: string;
  readonly client: MqttClient;
  readonly topic: string;
}

/**
 * Connects one MQTT 3.1.1 client per device to the embedded broker (username = device id,
 * password = its connection token, clean session, no automatic reconnect), a few at a time.
 */
export async function connectDevices(
  url: string,
  devices: readonly string[],
  tokens: readonly string[],
): Promise<MqttDevice[]> {
  const connected: MqttDevice[] = [];
  const one = (device: string, token: string) =>
    new Promise<MqttDevice>((resolve, reject) => {
      const client = connect(url, {
        protocolVersion: 4,
        clientId: device,
        username: device,
        password: token,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 30_000,
        keepalive: 60,
      });
      client.once('connect', () => resolve({ device, client, topic: messagesTopic(device) }));
      client.once('error', (error) => {
        client.end(true);
        reject(error);
      });
    });
  try {
    for (let i = 0; i < devices.length; i += 50) {
      const batch = devices.slice(i, i + 50).map((device, j) => one(device, tokens[i + j] as string));
      connected.push(...(await Promise.all(batch)));
    }
  } catch (error) {
    await disconnectDevices(connected);
    throw error;
  }
  return connected;
}

export async function disconnectDevices(devices: readonly MqttDevice[]): Promise<void> {
  await Promise.all(devices.map((d) => d.client.endAsync(true).catch(() => undefined)));
}

export interface MqttSaturationOptions {
  readonly server: MeasuredServer;
  readonly devices: readonly MqttDevice[];
  /** `messages[i]`: the signed messages of `devices[i]`, in order. */
  readonly messages: readonly (readonly string[])[];
  /** QoS 1 publishes each device keeps waiting for their PUBACK. */
  readonly windowPerDevice: number;
  readonly warmupS: number;
  readonly measureS: number;
}

/**
 * Every device publishes its messages with QoS 1 as fast as PUBACKs come back, keeping
 * `windowPerDevice` unacknowledged at a time (closed loop), and a window after the warm-up is measured.
 */
export async function saturateMqtt(options: MqttSaturationOptions): Promise<LoadWindow> {
  let acknowledged = 0;
  let failed = 0;
  let running = true;
  let outstanding = 0;
  let settled: (() => void) | undefined;
  const cursors = options.devices.map((_, i) => new PoolCursor(options.messages[i] ?? []));
  const publish = (device: MqttDevice, cursor: PoolCursor) => {
    outstanding++;
    device.client.publish(device.topic, cursor.next(), { qos: 1 }, (error) => {
      outstanding--;
      if (error === undefined || error === null) acknowledged++;
      else failed++;
      if (running && !device.client.disconnected) publish(device, cursor);
      else if (outstanding === 0) settled?.();
    });
  };
  const marks = new WindowMarks(options.server, () => ({ acknowledged, failed }));
  options.devices.forEach((device, i) => {
    for (let w = 0; w < options.windowPerDevice; w++) publish(device, cursors[i] as PoolCursor);
  });
  await marks.schedule(options.warmupS, options.measureS);
  running = false;
  if (outstanding > 0) {
    await new Promise<void>((resolve) => {
      settled = resolve;
      setTimeout(resolve, 30_000).unref();
    });
  }
  return marks.result(cursors.reduce((sum, c) => sum + c.wraps, 0));
}
