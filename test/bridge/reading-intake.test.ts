import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BridgeMetrics } from '../../bridge/bridge-metrics.js';
import { DeviceKeysFolder } from '../../bridge/keys/device-keys-folder.js';
import { ReadingIntake } from '../../bridge/reading-intake.js';
import { deliveryMark } from '../../bridge/state/delivery-window.js';
import { ReadingJournal } from '../../bridge/state/reading-journal.js';

let dir: string;
let journal: ReadingJournal;
let metrics: BridgeMetrics;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reading-intake-'));
  journal = ReadingJournal.open(join(dir, 'backlog'), 1_000_000);
  metrics = new BridgeMetrics();
});

afterEach(async () => {
  journal.close();
  await rm(dir, { recursive: true, force: true });
});

function intake(create: boolean, now = () => 1_796_420_000_000) {
  const keys = new DeviceKeysFolder({
    dir: join(dir, 'keys'),
    create,
    alg: 'EdDSA',
    registry: undefined,
    onCreated: () => {},
  });
  return new ReadingIntake({ journal, keys, metrics, logger: pino({ level: 'silent' }), now, added: () => {} });
}

const skippedBy = async (reason: string) =>
  (await metrics.skipped.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

describe('ReadingIntake', () => {
  it('stamps readings without a time on arrival, strictly increasing per device', async () => {
    await intake(true).take(
      {
        readings: [
          { device: 'a', ts: undefined, values: { v: 1 } },
          { device: 'a', ts: undefined, values: { v: 2 } },
        ],
        skipped: [],
      },
      'test',
    );
    expect([...journal.waiting()].map((e) => e.ts)).toEqual([1_796_420_000_000, 1_796_420_000_001]);
  });

  it('after a restart, stamps past the times a burst pushed ahead of the clock, even once they were settled', async () => {
    const burst = { device: 'a', ts: undefined, values: { v: 1 } };
    await intake(true).take({ readings: [burst, burst, burst], skipped: [] }, 'test');
    journal.settle([...journal.waiting()].map((e) => e.id));
    journal.close();
    // The next run starts within the same millisecond the burst began in.
    journal = ReadingJournal.open(join(dir, 'backlog'), 1_000_000);
    await intake(true).take({ readings: [burst], skipped: [] }, 'test');
    expect([...journal.waiting()].map((e) => e.ts)).toEqual([1_796_420_000_003]);
  });

  it('does not follow a device clock far ahead into the arrival times of its readings without one', async () => {
    const ahead = 1_796_420_000_000 + 3_600_000;
    await intake(true).take({ readings: [{ device: 'a', ts: ahead, values: { v: 1 } }], skipped: [] }, 'test');
    journal.close();
    journal = ReadingJournal.open(join(dir, 'backlog'), 1_000_000);
    await intake(true).take({ readings: [{ device: 'a', ts: undefined, values: { v: 2 } }], skipped: [] }, 'test');
    expect([...journal.waiting()].map((e) => e.ts)).toEqual([ahead, 1_796_420_000_000]);
  });

  it('skips a device whose key file is unreadable, and takes the other devices', async () => {
    await mkdir(join(dir, 'keys'));
    await writeFile(join(dir, 'keys', 'broken.key.json'), 'not a key');
    const result = await intake(true).take(
      {
        readings: [
          { device: 'broken', ts: 1, values: { v: 1 } },
          { device: 'good', ts: 1, values: { v: 1 } },
        ],
        skipped: [],
      },
      'test',
    );
    expect(result).toEqual({ accepted: 1, skipped: 1 });
    expect(await skippedBy('key_error')).toBe(1);
  });

  it('skips devices without a key file when new keys are off, and readings without values', async () => {
    const result = await intake(false).take(
      {
        readings: [
          { device: 'stranger', ts: 1, values: { v: 1 } },
          { device: 'empty', ts: 1, values: {} },
        ],
        skipped: [],
      },
      'test',
    );
    expect(result).toEqual({ accepted: 0, skipped: 2 });
    expect([await skippedBy('no_key'), await skippedBy('no_values')]).toEqual([1, 1]);
  });

  describe('MQTT messages delivered again', () => {
    const message = deliveryMark(42, 'zigbee2mqtt/kitchen', Buffer.from('{"temperature":21}'));
    const input = { readings: [{ device: 'kitchen', ts: undefined, values: { temperature: 21 } }], skipped: [] };
    const redeliveries = async () => (await metrics.redeliveriesSkipped.get()).values[0]?.value;

    it('skips a redelivery (DUP) of a message it journaled, and counts it', async () => {
      const bridge = intake(true);
      expect(bridge.isRedelivery(message, false)).toBe(false);
      await bridge.take(input, 'test', message);
      expect(bridge.isRedelivery(message, true)).toBe(true);
      expect(await redeliveries()).toBe(1);
    });

    it('takes a redelivery of a message it never journaled', async () => {
      const bridge = intake(true);
      await bridge.take(input, 'test', message);
      const other = deliveryMark(43, 'zigbee2mqtt/kitchen', Buffer.from('{"temperature":21}'));
      expect(bridge.isRedelivery(other, true)).toBe(false);
      expect(await redeliveries()).toBe(0);
    });

    it('never skips a first delivery (DUP clear), even of a message equal to one journaled', async () => {
      const bridge = intake(true);
      await bridge.take(input, 'test', message);
      // The broker reused packet id 42 for a new, identical message.
      expect(bridge.isRedelivery(message, false)).toBe(false);
      await bridge.take(input, 'test', message);
      expect([...journal.waiting()].map((e) => e.values.temperature)).toEqual([21, 21]);
    });

    it('takes the redelivery of such a message when the bridge died before journaling it', async () => {
      await intake(true).take(input, 'test', message);
      // The identical new message arrives; the bridge is killed before it is in the journal.
      intake(true).isRedelivery(message, false);
      journal.close();
      journal = ReadingJournal.open(join(dir, 'backlog'), 1_000_000);
      // After the restart the broker sends it again, DUP set: it is not the one journaled before.
      const restarted = intake(true);
      expect(restarted.isRedelivery(message, true)).toBe(false);
      await restarted.take(input, 'test', message);
      expect([...journal.waiting()].map((e) => e.values.temperature)).toEqual([21, 21]);
    });
  });
});
