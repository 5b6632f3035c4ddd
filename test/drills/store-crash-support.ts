/**
 * The load and the audit of the store-crash drill (store-crash.test.ts): devices that each send one signed message
 * at a time and record every reading acknowledged ({@link runDevice}), the read-back of what the restarted store
 * holds ({@link readBack}), and the drill's result line ({@link drillSummary}). The stores it kills are in
 * store-crash-targets.ts.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { signMessage } from '../../src/index.js';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';
import { makeDevice, type TestDevice } from '../support/devices.js';
import type { CrashTarget, RunningStore } from './store-crash-targets.js';

const DEVICES = 8;
const METRIC = 'v';
/** A bound on each device's messages, in case the kill never comes. */
const MAX_MESSAGES_PER_DEVICE = 20_000;

interface Ack {
  readonly key: string;
  readonly at: number;
}

export interface LoadRecord {
  stopped: boolean;
  readonly acks: Ack[];
  /** Every message a device sent at least once, by key. */
  readonly sent: Set<string>;
  readonly refusals: Map<string, number>;
  /** Requests that got no answer (the node was gone). */
  noAnswer: number;
}

const keyOf = (device: string, ts: number): string => `${device}\u0000${ts}`;

/** The devices of the drill, with distinct ids. */
export function makeDrillDevices(): Promise<TestDevice[]> {
  return Promise.all(Array.from({ length: DEVICES }, (_, i) => makeDevice(`crash-${i}`, 'ES256')));
}

export function newLoadRecord(): LoadRecord {
  return { stopped: false, acks: [], sent: new Set(), refusals: new Map(), noAnswer: 0 };
}

/** One message at a time, each until acknowledged (resent after a refusal), until the load stops. */
export async function runDevice(device: TestDevice, url: string, base: number, record: LoadRecord): Promise<void> {
  for (let seq = 1; seq <= MAX_MESSAGES_PER_DEVICE && !record.stopped; seq++) {
    const ts = base + seq;
    const key = keyOf(device.id, ts);
    const jws = await signMessage(device.signer, seq, [{ ts, values: { [METRIC]: seq } }]);
    record.sent.add(key);
    for (;;) {
      let response: Response;
      try {
        response = await fetch(`${url}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/jose' },
          body: jws,
        });
      } catch {
        record.noAnswer++;
        return; // the node is gone: a real device would keep the message and try again later
      }
      if (response.status === 200) {
        await response.arrayBuffer();
        record.acks.push({ key, at: Date.now() });
        break;
      }
      const { error } = (await response.json()) as { error: { code: string } };
      record.refusals.set(error.code, (record.refusals.get(error.code) ?? 0) + 1);
      if (record.stopped) return;
      await delay(50);
    }
  }
}

/** Every stored key of `deviceIds` between `start` and `end`, following cursors. */
async function storedKeys(store: TelemetryStore, deviceIds: string[], start: number, end: number) {
  const keys = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.queryReadings({
      devices: deviceIds,
      range: { start, end },
      limit: 10_000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const p of page.items) keys.add(keyOf(p.device, p.ts));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return keys;
}

/**
 * Every stored key of `deviceIds` from `base` on, once the reopened store holds every acknowledged reading or after
 * 3 s. Nothing acknowledged can be written later, so what is missing now stays missing: a short grace for stores
 * whose reads lag (VictoriaMetrics: about a second), then the last look counts.
 */
export async function readBack(
  store: RunningStore,
  reader: TelemetryStore,
  deviceIds: string[],
  base: number,
  record: LoadRecord,
): Promise<Set<string>> {
  const end = base + MAX_MESSAGES_PER_DEVICE + 1;
  let stored = new Set<string>();
  for (const deadline = Date.now() + 3_000; ; ) {
    await store.flush();
    stored = await storedKeys(reader, deviceIds, base, end);
    if (record.acks.every((a) => stored.has(a.key)) || Date.now() > deadline) break;
    await delay(250);
  }
  return stored;
}

const percent = (part: number, whole: number): number => Math.round((part / Math.max(whole, 1)) * 1000) / 10;

/** When each step of a drill run began or how long it took, in ms, and the acknowledgements before the kill. */
export interface DrillTimes {
  readonly t0: number;
  readonly loadStart: number;
  readonly acksBeforeKill: number;
  readonly killAt: number;
  readonly killedIn: number;
  readonly loadEnd: number;
  readonly reopenMs: number;
}

/** The drill's result line for one store (scripts/drill-store-crash.ts reads it), its `ms.total` measured now. */
export function drillSummary(
  target: CrashTarget,
  record: LoadRecord,
  stored: ReadonlySet<string>,
  missing: readonly Ack[],
  { t0, loadStart, acksBeforeKill, killAt, killedIn, loadEnd, reopenMs }: DrillTimes,
) {
  const acked = new Set(record.acks.map((a) => a.key));
  const oldestMissingAt = Math.min(...missing.map((a) => a.at));
  const newestMissingAt = Math.max(...missing.map((a) => a.at));
  const inWindow = record.acks.filter((a) => a.at >= oldestMissingAt);
  return {
    configuration: target.configuration,
    acks: {
      total: record.acks.length,
      beforeKill: acksBeforeKill,
      perSecond: Math.round((acksBeforeKill / (killAt - loadStart)) * 1000),
    },
    missing: missing.length,
    missingPercent: percent(missing.length, record.acks.length),
    // How long before the kill the oldest and the newest missing reading were acknowledged.
    lossWindowMs: missing.length === 0 ? null : { oldest: killAt - oldestMissingAt, newest: killAt - newestMissingAt },
    // Of the readings acknowledged since the oldest missing one, how many were stored after all.
    storedWithinWindow: missing.length === 0 ? null : inWindow.length - missing.length,
    sent: record.sent.size,
    unacknowledgedButStored: [...record.sent].filter((k) => !acked.has(k) && stored.has(k)).length,
    refusalsAfterKill: Object.fromEntries(record.refusals),
    noAnswer: record.noAnswer,
    ms: {
      load: killAt - loadStart,
      kill: killedIn,
      devicesSettled: loadEnd - killAt,
      reopen: reopenMs,
      total: Date.now() - t0,
    },
  };
}
