import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signMessage } from '../../src/index.js';
import { makeDevice, type TestDevice } from '../support/devices.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';

const MiB = 1_048_576;
const BUDGET = 64 * MiB;
const BATCH_BYTES = 4 * MiB;
const HEADERS_TIMEOUT_SECONDS = 3;
/**
 * The RSS bound docs/OPERATIONS.md states ("Memory before authentication"): the node's own footprint, plus four
 * bytes for each byte of the body budget (received, joined into text, parsed, and the garbage collector's lag).
 */
const RSS_BOUND = 200 * MiB + 4 * BUDGET;

let dir: string;
let node: ServeProcess;
let device: TestDevice;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'memory-bound-'));
  device = await makeDevice('memory-dev', 'EdDSA');
  await writeFile(join(dir, 'registry.json'), JSON.stringify({ keys: [device.publicJwk] }));
  node = await startServe({
    cwd: dir,
    env: {
      TELEMETRY_MQTT: 'off',
      TELEMETRY_KEY_REGISTRY: join(dir, 'registry.json'),
      TELEMETRY_HTTP_HEADERS_TIMEOUT_SECONDS: String(HEADERS_TIMEOUT_SECONDS),
      TELEMETRY_MAX_UNVERIFIED_BYTES: String(BUDGET),
      TELEMETRY_MAX_BATCH_BYTES: String(BATCH_BYTES),
    },
  });
});

afterAll(async () => {
  await node?.stop('SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

/** The node's peak resident memory so far (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024;
}

/** A batch body of exactly `bytes` bytes: forged messages nobody signed, the most an attacker can send. */
function forgedBatch(bytes: number): Buffer {
  const message = `eyJhbGciOiJFZERTQSIsImtpZCI6Im5vLXN1Y2gta2V5In0.${'A'.repeat(8000)}.${'B'.repeat(86)}`;
  const count = Math.floor((bytes - 20) / (message.length + 3));
  const body = JSON.stringify({ messages: Array.from({ length: count }, () => message) });
  return Buffer.from(body.padEnd(bytes, ' '));
}

/** POSTs `body` on a fresh connection and resolves with the status, or 0 when the connection was dropped. */
function post(path: string, type: string, body: Buffer | string): Promise<number> {
  const url = new URL(path, node.httpUrl);
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': type, 'content-length': Buffer.byteLength(body), connection: 'close' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Resolves with how long the node took to close a connection that sends `bytes` and then nothing more. */
function closedAfter(bytes: string): Promise<number> {
  const { hostname, port } = new URL(node.httpUrl);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    socket.on('error', () => undefined);
    // Read what the node answers (its 408), so the socket sees the end and closes.
    socket.resume();
    socket.on('close', () => resolve((Date.now() - started) / 1000));
  });
}

describe('memory before authentication', () => {
  it('stays under the documented RSS bound under a flood of maximum-size batches, and still serves a device', async () => {
    const pid = node.child.pid as number;
    const before = peakRss(pid);
    const batch = forgedBatch(BATCH_BYTES);
    const statuses = new Map<number, number>();
    let legitimate = 0;
    let legitimateOk = 0;
    const flood = Array.from({ length: 48 }, async () => {
      for (let round = 0; round < 3; round++) {
        const status = await post('/v1/messages/batch', 'application/json', batch);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    });
    const device = (async () => {
      for (let seq = 0; seq < 10; seq++) {
        const body = await signMessage(deviceSigner(), seq, [{ ts: Date.now() - 1000, values: { n: seq } }]);
        legitimate++;
        if ((await post('/v1/messages', 'application/jose', body)) === 200) legitimateOk++;
      }
    })();
    await Promise.all([...flood, device]);
    const peak = peakRss(pid);
    console.info(
      'memory bound',
      JSON.stringify({
        beforeMiB: before / MiB,
        peakMiB: peak / MiB,
        boundMiB: RSS_BOUND / MiB,
        statuses: [...statuses],
      }),
    );
    // Every forged batch got an answer: refused for its forgeries (200 with per-message rejections), or 503 for now.
    expect([...statuses.keys()].every((status) => status === 200 || status === 503)).toBe(true);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
    expect(legitimateOk).toBe(legitimate);
    expect(peak).toBeLessThan(RSS_BOUND);
  }, 180_000);

  it('closes a connection that sends no request, or its headers too slowly, within the headers timeout', async () => {
    const [idle, slowloris] = await Promise.all([
      closedAfter(''),
      closedAfter('POST /v1/messages HTTP/1.1\r\nHost: x\r\n'),
    ]);
    for (const seconds of [idle, slowloris]) {
      expect(seconds).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_SECONDS - 0.5);
      // The timeout, plus the one-second check interval, plus scheduling slack on a busy machine.
      expect(seconds).toBeLessThan(HEADERS_TIMEOUT_SECONDS + 3);
    }
  });
});

function deviceSigner() {
  return device.signer;
}
