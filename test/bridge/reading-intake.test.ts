import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BridgeMetrics } from '../../bridge/bridge-metrics.js';
import { DeviceKeysFolder } from '../../bridge/keys/device-keys-folder.js';
import { ReadingIntake } from '../../bridge/reading-intake.js';
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
});
