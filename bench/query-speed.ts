/**
 * The `query` section of `npm run bench`: loads a fixed history through the ingest path (signed messages
 * posted to a listening node), then asks each question of the query API over HTTP and of the store's own
 * TelemetryStore interface in the same process ("direct"; for DuckDB's latest values, which its store keeps in
 * memory, the store's own SQL on a copy of the file), and reports the medians and their ratio, and the
 * process RSS while the largest answer streams. Sized for a 2-core machine: `--devices` (default 20) ×
 * 3 metrics × a reading every 10 s × `--hours` (default 12); `--stores duckdb,victoriametrics,influxdb`; `--question <words>`
 * asks only the questions whose name holds them.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createGunzip } from 'node:zlib';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { buildIngest } from '../ingest/build-ingest.js';
import { parseConfig } from '../src/config/parse-config.js';
import { DeviceKeys, generateKey, issueOperatorToken, JwksRegistry, signMessage } from '../src/index.js';
import type { Reading } from '../src/protocol/message.js';
import { latestStatement } from '../src/store/duckdb-queries.js';
import { DuckDbStore } from '../src/store/duckdb-store.js';
import { InfluxStore } from '../src/store/influx-store.js';
import type { LatestQuery, Page, TelemetryStore } from '../src/store/telemetry-store.js';
import { VictoriaMetricsStore } from '../src/store/victoria-metrics-store.js';
import { makeDevice, registryOf, type TestDevice } from '../test/support/devices.js';
import { startInfluxDb } from '../test/support/influxdb-server.js';
import { startVictoriaMetrics } from '../test/support/victoria-metrics-server.js';
import { printResult, progress, sectionArgs, sig } from './support/bench-result.js';
import { median } from './support/median.js';

const HOUR = 3_600_000;
const STEP_MS = 10_000;
// Within the 64 KiB message limit with three metrics a reading.
const READINGS_PER_MESSAGE = 250;
/** Runs of each question at least; a quick question is run more often, so its median is one of many. */
const RUNS = 3;
const MAX_RUNS = 25;
/** Time, in ms, the runs of one question aim to fill on each side. */
const RUNS_BUDGET_MS = 400;

interface Question {
  readonly name: string;
  /** The API request (path and query string). */
  readonly url: string;
  readonly headers?: Record<string, string>;
  /** The number of items the loaded history answers it with. */
  readonly items: number;
  /** The same question asked of the store directly; resolves with the number of items. */
  readonly direct: (store: TelemetryStore) => Promise<number>;
}

interface Row {
  readonly store: string;
  readonly question: string;
  readonly apiMs: number;
  readonly directMs: number;
  readonly ratio: number;
  readonly items: number;
  readonly bytes: number;
}

async function allPages(read: (cursor: string | undefined) => Promise<Page<unknown>>): Promise<number> {
  let items = 0;
  let cursor: string | undefined;
  do {
    const page = await read(cursor);
    items += page.items.length;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return items;
}

/** One keep-alive connection pool for every question: a client as plain as curl, so the API's cost is the node's. */
const CLIENT = new Agent({ keepAlive: true, maxSockets: 4 });

/** An error answer's body is kept up to this many bytes, for the message. */
const ERROR_BYTES = 2_000;

/**
 * GETs `url`; resolves with the status, the Link header, the body's length (decoded as it arrives when it comes
 * gzipped, as `curl --compressed` does) and, for an answer that is not 200, the start of the body. The body is
 * counted, not kept, as `curl -o /dev/null` would: the client's memory is not the node's.
 */
function getAnswer(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; link: string | undefined; bytes: number; text: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: CLIENT, headers }, (response) => {
      const header = response.headers.link;
      const link = Array.isArray(header) ? header.join(', ') : header;
      const status = response.statusCode ?? 0;
      let bytes = 0;
      let text = '';
      response.once('error', reject);
      const body =
        response.headers['content-encoding'] === 'gzip'
          ? response.pipe(createGunzip({ chunkSize: GUNZIP_CHUNK }))
          : response;
      body.on('data', (chunk: Buffer) => {
        bytes += chunk.byteLength;
        if (status !== 200 && text.length < ERROR_BYTES) text += chunk.toString('utf8');
      });
      body.once('error', reject);
      body.once('end', () => resolve({ status, link, bytes, text }));
    })
      .once('error', reject)
      .end();
  });
}

/** Decoded output per zlib call: 256 KiB rather than zlib's default 16 KiB, fewer round trips to its thread pool. */
const GUNZIP_CHUNK = 256 * 1024;

/**
 * Follows `Link: rel="next"` to the end; returns the bytes received (decoded). node:http, not fetch: fetch's web
 * streams cost this process (which is also the node) about 1.5 ms more per 75 KB page.
 */
async function apiAnswer(base: string, url: string, headers: Record<string, string>): Promise<number> {
  let next: string | undefined = url;
  let bytes = 0;
  while (next !== undefined) {
    const answer = await getAnswer(`${base}${next}`, headers);
    if (answer.status !== 200) throw new Error(`${next}: HTTP ${answer.status} ${answer.text}`);
    bytes += answer.bytes;
    next = /<([^>]+)>;\s*rel="next"/.exec(answer.link ?? '')?.[1];
  }
  return bytes;
}

/** How long a question may wait for the store to show the whole history after its flush. */
const VISIBLE_WITHIN_MS = 10_000;

/**
 * Asks the question of the store until it shows every item the loaded history holds, and resolves with that
 * number; fails after {@link VISIBLE_WITHIN_MS}. A store that made the history searchable only in part would
 * otherwise be timed answering less than the question asks.
 */
async function visible(question: Question, direct: () => Promise<number>, kind: string): Promise<number> {
  const deadline = performance.now() + VISIBLE_WITHIN_MS;
  for (;;) {
    const items = await direct();
    if (items === question.items) return items;
    if (performance.now() > deadline) {
      throw new Error(`${kind}: ${question.name}: the store shows ${items} of the ${question.items} items loaded`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Fails the bench when a run's answer differs in size from the first one: every run must answer the same. */
function same(kind: string, question: Question, what: string, first: number, now: number): void {
  if (now === first) return;
  throw new Error(`${kind}: ${question.name}: ${what} ${now} in a run against ${first} in the first`);
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

/** The newest values asked of the store itself; resolves with the number of series. */
type LatestDirect = (query: LatestQuery) => Promise<number>;

function questions(devices: readonly string[], from: number, to: number, latestDirect: LatestDirect): Question[] {
  const range = { start: from, end: to };
  const perSeries = (to - from) / STEP_MS;
  const span = `from=${from}&to=${to}`;
  const one = devices[0] ?? '';
  // The questions by prefix are asked of the store by prefix too: the same question, in the store's own terms.
  const byPrefix = { devices: [], devicePrefix: 'dev-' };
  return [
    {
      name: `1 h mean windows, ${devices.length} devices × 3 metrics (prefix)`,
      url: `/v1/query/windows?prefix=dev-&${span}&windowMs=${HOUR}&aggregate=mean&limit=100000`,
      items: devices.length * 3 * ((to - from) / HOUR),
      direct: (store) =>
        allPages((cursor) =>
          store.queryWindows({
            ...byPrefix,
            range,
            windowMs: HOUR,
            aggregate: 'mean',
            limit: 100_000,
            ...(cursor === undefined ? {} : { cursor }),
          }),
        ),
    },
    {
      name: 'raw, 1 device × 1 metric, default pages of 1,000',
      url: `/v1/query/readings?device=${one}&metric=temperature&${span}`,
      items: perSeries,
      direct: (store) =>
        allPages((cursor) =>
          store.queryReadings({
            devices: [one],
            metrics: ['temperature'],
            range,
            limit: 1_000,
            ...(cursor === undefined ? {} : { cursor }),
          }),
        ),
    },
    {
      name: `bulk, ${devices.length} devices × 1 metric, streamed NDJSON, gzip`,
      url: `/v1/query/readings?prefix=dev-&metric=temperature&${span}&all=true&format=ndjson`,
      headers: { 'accept-encoding': 'gzip' },
      items: devices.length * perSeries,
      direct: (store) =>
        allPages((cursor) =>
          store.queryReadings({
            ...byPrefix,
            metrics: ['temperature'],
            range,
            limit: 10_000,
            ...(cursor === undefined ? {} : { cursor }),
          }),
        ),
    },
    {
      name: `bulk, ${devices.length} devices × 3 metrics, pages of 100,000, compact JSON`,
      url: `/v1/query/readings?prefix=dev-&${span}&limit=100000&format=compact`,
      items: devices.length * 3 * perSeries,
      direct: (store) =>
        allPages((cursor) =>
          store.queryReadings({ ...byPrefix, range, limit: 100_000, ...(cursor === undefined ? {} : { cursor }) }),
        ),
    },
    {
      name: `latest of ${devices.length * 3} series`,
      url: '/v1/query/latest?prefix=dev-',
      items: devices.length * 3,
      direct: () => latestDirect({ devicePrefix: 'dev-' }),
    },
  ];
}

const DUCKDB_FILE = 'bench.duckdb';

/**
 * A copy of the bench's DuckDB file, taken once the history is loaded (the file and its write-ahead log; no write
 * is under way then), opened in a DuckDB instance of its own with one thread: where "direct" means the store's
 * own SQL, as for the newest values, which the node answers from memory.
 */
class DuckDbCopy {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async of(file: string, copy: string): Promise<DuckDbCopy> {
    await copyFile(file, copy);
    if (existsSync(`${file}.wal`)) await copyFile(`${file}.wal`, `${copy}.wal`);
    const instance = await DuckDBInstance.create(copy, { threads: '1' });
    return new DuckDbCopy(instance, await instance.connect());
  }

  /** The statement DuckDbStore ran for the newest values before it kept them in memory. */
  async latest(query: LatestQuery): Promise<number> {
    const { sql, values, types } = latestStatement(query);
    return (await this.connection.runAndReadAll(sql, values, types)).currentRowCount;
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** A store server the bench started: stopped at the end; `flush` makes what was written readable at once. */
interface StoreServer {
  stop(): Promise<void>;
  flush?(): Promise<void>;
}

async function openStore(kind: string, dir: string): Promise<{ store: TelemetryStore; server?: StoreServer }> {
  if (kind === 'duckdb') return { store: await DuckDbStore.open({ path: join(dir, DUCKDB_FILE) }) };
  if (kind === 'influxdb') {
    const server = await startInfluxDb();
    const store = new InfluxStore({
      url: server.url,
      api: 'v1',
      database: server.database,
      timeoutMs: 60_000,
      queryMode: 'influxql',
    });
    return { store, server };
  }
  const server = await startVictoriaMetrics();
  const store = new VictoriaMetricsStore({
    url: server.url,
    api: 'v2',
    org: '',
    bucket: 'telemetry',
    timeoutMs: 60_000,
  });
  return { store, server };
}

async function benchStore(
  kind: string,
  fleet: readonly TestDevice[],
  hours: number,
  quick: boolean,
  only: string | undefined,
): Promise<Row[]> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-query-'));
  const { store, server } = await openStore(kind, dir);
  let closeDirect = (): void => undefined;
  const operator = await generateKey('ES256', 'bench-operators');
  const issuers = JwksRegistry.fromDocument({ keys: [operator.publicJwk] }, 'operator issuers', { requireSub: false });
  const node = await buildIngest({
    config: parseConfig({ TELEMETRY_MAX_READING_AGE_SECONDS: String((hours + 2) * 3600) }),
    store,
    keys: new DeviceKeys({ registry: () => registryOf(...fleet) }),
    operatorIssuers: () => issuers,
    now: Date.now,
  });
  try {
    const base = await node.app.listen({ host: '127.0.0.1', port: 0 });
    const to = Math.floor(Date.now() / HOUR) * HOUR;
    const from = to - hours * HOUR;
    progress(`query (${kind}): loading ${fleet.length} devices × 3 metrics × ${hours} h through the ingest path`);
    for (const device of fleet) {
      let sequence = 0;
      for (let start = from; start < to; start += READINGS_PER_MESSAGE * STEP_MS) {
        const readings: Omit<Reading, 'device'>[] = [];
        for (let ts = start; ts < Math.min(to, start + READINGS_PER_MESSAGE * STEP_MS); ts += STEP_MS) {
          const phase = ts / HOUR;
          readings.push({
            ts,
            values: { temperature: 20 + Math.sin(phase), humidity: 50 + (ts % 7), battery: 100 - phase / 100 },
          });
        }
        sequence += 1;
        const response = await fetch(`${base}/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/jose' },
          body: await signMessage(device.signer, sequence, readings),
        });
        if (!response.ok) throw new Error(`ingest refused a message: HTTP ${response.status} ${await response.text()}`);
      }
    }
    await server?.flush?.();
    // DuckDB's store keeps the newest values in memory (docs/STORAGE.md): its own answer is no longer the store's.
    const sql = kind === 'duckdb' ? await DuckDbCopy.of(join(dir, DUCKDB_FILE), join(dir, 'direct.duckdb')) : undefined;
    closeDirect = () => sql?.close();
    const latestDirect: LatestDirect =
      sql === undefined ? async (query) => (await store.queryLatest(query)).length : (query) => sql.latest(query);
    const token = await issueOperatorToken({
      issuerKey: operator.privateJwk,
      subject: 'bench',
      scope: 'read',
      lifetimeSeconds: 3600,
      now: Date.now(),
    });
    const devices = fleet.map((device) => device.id).sort();
    const rows: Row[] = [];
    const asked = questions(devices, from, to, latestDirect).filter((q) => only === undefined || q.name.includes(only));
    for (const question of asked) {
      // A question is compressed only where its name says so.
      const headers = { authorization: `Bearer ${token}`, 'accept-encoding': 'identity', ...question.headers };
      const items = await visible(question, () => question.direct(store), kind);
      const first = performance.now();
      const bytes = await apiAnswer(base, question.url, headers);
      const runs = quick
        ? 1
        : Math.min(MAX_RUNS, Math.max(RUNS, Math.ceil(RUNS_BUDGET_MS / (performance.now() - first))));
      const api: number[] = [];
      const direct: number[] = [];
      for (let run = 0; run < runs; run++) {
        direct.push(await timed(async () => same(kind, question, 'direct items', items, await question.direct(store))));
        api.push(
          await timed(async () =>
            same(kind, question, 'API bytes', bytes, await apiAnswer(base, question.url, headers)),
          ),
        );
      }
      const [apiMs, directMs] = [median(api), median(direct)];
      rows.push({ store: kind, question: question.name, apiMs, directMs, ratio: apiMs / directMs, items, bytes });
      progress(`query (${kind}): ${question.name}: API ${sig(apiMs)} ms, direct ${sig(directMs)} ms`);
    }
    return rows;
  } finally {
    closeDirect();
    await node.close(1_000);
    await store.close();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { quick, values } = sectionArgs();
  const devices = Number(values.get('devices') ?? (quick ? 4 : 20));
  const hours = Number(values.get('hours') ?? (quick ? 2 : 12));
  const stores = (values.get('stores') ?? 'duckdb,victoriametrics,influxdb').split(',');
  const fleet = await Promise.all(
    Array.from({ length: devices }, (_, i) => makeDevice(`dev-${String(i).padStart(3, '0')}`, 'ES256')),
  );
  const rows: Row[] = [];
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  try {
    for (const kind of stores) rows.push(...(await benchStore(kind, fleet, hours, quick, values.get('question'))));
  } finally {
    clearInterval(sampler);
    CLIENT.destroy();
  }
  const markdown = [
    `${devices} devices × 3 metrics × a reading every 10 s × ${hours} h (${devices * 3 * hours * 360} values), loaded through the ingest path; ${quick ? 'one run each' : `medians of ${RUNS}–${MAX_RUNS} runs (more for quicker questions)`}. "direct" is the store's TelemetryStore interface in the same process, paging as the API would; for DuckDB's latest values, which its store keeps in memory, the store's own SQL on a copy of the file.`,
    '',
    '| store | question | API ms | direct ms | API / direct | items | bytes (decoded) |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.store} | ${r.question} | ${sig(r.apiMs)} | ${sig(r.directMs)} | ${sig(r.ratio)}× | ${r.items} | ${r.bytes} |`,
    ),
    '',
    `Peak RSS of the bench process (node, API and, for DuckDB, the embedded store): ${sig(peakRss / 2 ** 20)} MiB.`,
  ].join('\n');
  process.stdout.write(`${markdown}\n`);
  printResult({
    section: 'query',
    markdown,
    rows: rows.map((r) => ({ ...r, ratio: sig(r.ratio) })),
    peakRssMiB: sig(peakRss / 2 ** 20),
  });
}

await main();
