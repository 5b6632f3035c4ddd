import type { DeviceSigner } from '../../src/index.js';
import type { DeviceFaults } from '../device/device-options.js';
import { SimulatedDevice } from '../device/simulated-device.js';
import type { FleetDevice } from '../fleet/fleet-manifest.js';
import { findDeviceKind, KindSampler } from '../kinds/index.js';
import { SeededRandom } from '../random/seeded-random.js';
import type { DeviceLink } from '../transport/device-link.js';
import { HttpLink } from '../transport/http-link.js';
import { MqttLink } from '../transport/mqtt-link.js';
import { deviceStart, type RunHttp, type RunPlan } from './run-plan.js';

/** A device's way to the node: its own MQTT connection, or its share of the fleet's HTTP client. */
function deviceLink(plan: RunPlan, http: RunHttp | undefined, entry: FleetDevice, signer: DeviceSigner): DeviceLink {
  const { options, stats, now } = plan;
  if (options.transport === 'mqtt') {
    return new MqttLink({
      url: options.url,
      signer,
      qos: options.qos,
      acks: options.mqttAcks ?? 'puback',
      ...(options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: options.ackTimeoutMs }),
      tokenTtlSeconds: options.tokenTtlSeconds,
      audience: options.audience,
      backoff: options.backoff,
      rng: SeededRandom.from(options.seed, 'reconnect', entry.id),
      now,
      events: stats,
    });
  }
  return new HttpLink(
    (jws, cut) => (http as RunHttp).send(jws, cut),
    () => stats.dropped(entry.id),
  );
}

/** The device's part in fault injection, when the run injects any; it may borrow the next device's key. */
function deviceFaults(plan: RunPlan, entry: FleetDevice, index: number): { faults?: DeviceFaults } {
  const { options, injector } = plan;
  if (!injector.active) return {};
  const count = options.fleet.devices.length;
  const otherEntry = count > 1 ? options.fleet.devices[(index + 1) % count] : undefined;
  const other = otherEntry === undefined ? undefined : options.signers.get(otherEntry.id);
  return {
    faults: {
      injector,
      rng: SeededRandom.from(options.seed, 'faults', entry.id),
      context: {
        maxMessageBytes: options.limits.maxMessageBytes,
        ...(other === undefined ? {} : { other }),
        ...(options.issuerKey === undefined ? {} : { issuerKey: options.issuerKey }),
      },
    },
  };
}

/** One simulated device for the fleet entry at `index`, with its link, sensors, schedule and faults. */
function buildDevice(plan: RunPlan, http: RunHttp | undefined, entry: FleetDevice, index: number): SimulatedDevice {
  const { options, stats, now, start } = plan;
  const signer = options.signers.get(entry.id);
  const kind = findDeviceKind(entry.kind);
  if (signer === undefined || kind === undefined) throw new TypeError(`device ${entry.id} has no signer or kind`);
  const link = deviceLink(plan, http, entry, signer);
  const perSecond = options.rate * options.readingsPerMessage;
  return new SimulatedDevice({
    signer,
    link,
    sampler: new KindSampler(kind, SeededRandom.from(options.seed, 'sensors', entry.id)),
    schedule: { t0: deviceStart(plan, index), perSecond, clockOffsetMs: plan.clockOffsets.get(entry.id) ?? 0 },
    messagesPerSecond: options.rate,
    limits: options.limits,
    window: options.window,
    backoff: options.backoff,
    rng: SeededRandom.from(options.seed, 'retries', entry.id),
    now,
    events: stats,
    stopAt: {
      ...(options.durationMs === undefined ? {} : { time: start + options.durationMs }),
      ...(options.messages === undefined ? {} : { readings: options.messages * options.readingsPerMessage }),
    },
    ...deviceFaults(plan, entry, index),
  });
}

/** Every device of the fleet, in the manifest's order. */
export function buildDevices(plan: RunPlan, http: RunHttp | undefined): SimulatedDevice[] {
  return plan.options.fleet.devices.map((entry, index) => buildDevice(plan, http, entry, index));
}
