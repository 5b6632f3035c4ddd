import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKey, issueOperatorToken } from '../../src/index.js';
import type { Reading } from '../../src/protocol/message.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import type { TelemetryStore } from '../../src/store/telemetry-store.js';
import { VictoriaMetricsStore } from '../../src/store/victoria-metrics-store.js';
import { type ServeProcess, startServe } from '../support/serve-process.js';
import { startVictoriaMetrics, type VictoriaMetricsServer } from '../support/victoria-metrics-server.js';

const MiB = 1_048_576;
const DEVICES = 20;
const T0 = Date.UTC(2026, 10, 1);
/**
 * What a streamed answer may add to the node's resident memory, however large it is (docs/QUERY.md, "Big
 * answers"): a page of up to 10,000 items in objects and text, the socket's buffer, gzip's window, and the
 * garbage collector's lag, which is most of it (50–125 MB measured, the same for answers of 80 and 233 MB). Holding
 * an answer whole would add its text and its items as objects, more than twice its size.
 */
const STREAM_RSS_BOUND = 160 * MiB;

/** Resident memory now (VmRSS) and at its peak so far (VmHWM), in bytes. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

/** Writes the history every case streams: DEVICES devices, one metric, a reading a second. */
async function load(store: TelemetryStore, perDevice: number): Promise<void> {
  for (let start = 0; start < perDevice; start += 500) {
    const readings: Reading[] = [];
    for (let d = 0; d < DEVICES; d++) {
      for (let i = start; i < start + 500; i++) {
        readings.push({ device: `dev-${String(d).padStart(2, '0')}`, ts: T0 + i * 1000, values: { t: i / 8 } });
      }
    }
    await store.write(readings);
  }
}

let dir: string;
let token: string;
let vm: VictoriaMetricsServer | undefined;
const nodes: ServeProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stream-memory-'));
  const operators = await generateKey('ES256', 'operators.k1');
  await writeFile(join(dir, 'operators.jwks.json'), JSON.stringify({ keys: [operators.publicJwk] }));
  await writeFile(join(dir, 'registry.json'), JSON.stringify({ keys: [] }));
  token = await issueOperatorToken({
    issuerKey: operators.privateJwk,
    subject: 'stream-memory',
    scope: 'read',
    lifetimeSeconds: 3600,
    now: Date.now(),
  });
}, 120_000);

afterAll(async () => {
  for (const node of nodes) await node.stop('SIGTERM');
  await vm?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function startNode(env: NodeJS.ProcessEnv): Promise<ServeProcess> {
  const node = await startServe({
    cwd: dir,
    env: {
      TELEMETRY_MQTT: 'off',
      TELEMETRY_KEY_REGISTRY: join(dir, 'registry.json'),
      TELEMETRY_OPERATOR_ISSUERS: join(dir, 'operators.jwks.json'),
      TELEMETRY_LOG_LEVEL: 'warn',
      ...env,
    },
    timeoutMs: 60_000,
  });
  nodes.push(node);
  return node;
}

/** Every device's readings, `perDevice` each. */
function range(perDevice: number) {
  return { prefix: 'dev-', from: String(T0), to: String(T0 + perDevice * 1000) };
}

async function ask(
  node: ServeProcess,
  path: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return fetch(`${node.httpUrl}${path}?${new URLSearchParams(params)}`, {
    headers: { authorization: `Bearer ${token}`, ...headers },
  });
}

/**
 * Asks for every reading as one streamed NDJSON answer (gzip when `gzip`), reads it to the end counting bytes
 * and lines, and returns those with how much the node's resident memory rose above where it was before.
 */
async function streamAll(node: ServeProcess, perDevice: number, gzip: boolean) {
  const pid = node.child.pid ?? 0;
  const before = memory(pid).rss;
  const response = await ask(
    node,
    '/v1/query/readings',
    { ...range(perDevice), all: 'true', format: 'ndjson' },
    { 'accept-encoding': gzip ? 'gzip' : 'identity' },
  );
  expect(response.status).toBe(200);
  expect(response.headers.get('content-length')).toBeNull();
  let bytes = 0;
  let lines = 0;
  let last = '';
  const decoder = new TextDecoder();
  // fetch decodes gzip itself: count what the answer holds, as a client sees it.
  for await (const chunk of response.body ?? []) {
    bytes += chunk.byteLength;
    const text = last + decoder.decode(chunk, { stream: true });
    const parts = text.split('\n');
    last = parts.pop() ?? '';
    lines += parts.length;
  }
  return { bytes, lines, last, rose: memory(pid).peak - before };
}

describe.each([
  {
    store: 'the embedded DuckDB store',
    // 2.4 million readings, about 155 MB of NDJSON, once: each of its pages scans the table twice.
    perDevice: 120_000,
    gzipToo: false,
    open: async (): Promise<NodeJS.ProcessEnv> => {
      const dataDir = join(dir, 'duckdb-node');
      await mkdir(dataDir);
      const store = await DuckDbStore.open({ path: join(dataDir, 'telemetry.duckdb') });
      await load(store, 120_000);
      await store.close();
      return { TELEMETRY_STORE: 'embedded', TELEMETRY_DATA_DIR: dataDir };
    },
  },
  {
    store: 'VictoriaMetrics',
    // 3.6 million readings, about 233 MB of NDJSON, plain and then gzipped.
    perDevice: 180_000,
    gzipToo: true,
    open: async (): Promise<NodeJS.ProcessEnv> => {
      vm = await startVictoriaMetrics();
      const store = new VictoriaMetricsStore({
        url: vm.url,
        api: 'v2',
        org: '',
        bucket: 'telemetry',
        timeoutMs: 30_000,
      });
      await load(store, 180_000);
      await store.close();
      await vm.flush();
      return { TELEMETRY_STORE: 'victoriametrics', TELEMETRY_INFLUX_URL: vm.url };
    },
  },
])('a whole answer streamed from $store', ({ open, perDevice, gzipToo }) => {
  let node: ServeProcess;
  beforeAll(async () => {
    node = await startNode(await open());
    // One question that reads every stored value and answers 20 numbers: what the store caches of its files
    // (DuckDB's buffer pool holds the columns it scanned) is then in the node's memory before the answer starts.
    const counts = await ask(node, '/v1/query/windows', {
      ...range(perDevice),
      windowMs: String(perDevice * 1000),
      aggregate: 'count',
    });
    expect(counts.status).toBe(200);
  }, 180_000);

  it(`sends every reading while the node's memory rises by less than ${STREAM_RSS_BOUND / MiB} MiB`, async () => {
    const plain = await streamAll(node, perDevice, false);
    expect(plain.lines).toBe(DEVICES * perDevice);
    expect(plain.last).toBe('');
    // More than 60 bytes a reading: far more than the bound.
    expect(plain.bytes).toBeGreaterThan(DEVICES * perDevice * 60);
    expect(plain.rose).toBeLessThan(STREAM_RSS_BOUND);
    if (!gzipToo) return;
    const gzipped = await streamAll(node, perDevice, true);
    expect(gzipped.lines).toBe(DEVICES * perDevice);
    expect(gzipped.rose).toBeLessThan(STREAM_RSS_BOUND);
  }, 240_000);
});
