/**
 * The naive ingest server a user might write in an afternoon, as the baseline for our throughput
 * (docs/PERFORMANCE.md §3): fastify, jose's `compactVerify` of the same messages with the device's
 * key looked up by `kid` (imported once at start), `JSON.parse` of the payload, and one store write
 * per request, awaited before answering — no batching. It writes through the same store adapters as
 * the node (the embedded DuckDB file or VictoriaMetrics), so only what sits in between differs; the DuckDB
 * store skips its write journal here (`flushEveryPoints: 1`), so that each write is a DuckDB commit, as it was
 * before the journal and as an afternoon's server writing its own INSERTs would have it.
 *
 *   npx tsx bench/naive-baseline-server.ts --port 8090 --registry registry.jwks.json \
 *     --store duckdb --data-dir /tmp/naive   (or --store victoriametrics --vm-url http://127.0.0.1:8428)
 *
 * It checks less than the node does (no strict I-JSON, no schema, no timestamp window); that only
 * makes it cheaper, so the comparison favours it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import fastify from 'fastify';
import { type CryptoKey, compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import type { Reading } from '../src/protocol/message.js';
import { DuckDbStore } from '../src/store/duckdb-store.js';
import { InfluxStore } from '../src/store/influx-store.js';
import type { TelemetryStore } from '../src/store/telemetry-store.js';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8090' },
    registry: { type: 'string' },
    store: { type: 'string', default: 'duckdb' },
    'data-dir': { type: 'string', default: '.' },
    'vm-url': { type: 'string' },
  },
});

interface DeviceKey {
  readonly key: CryptoKey;
  readonly alg: string;
  readonly device: string;
}

const registry = JSON.parse(readFileSync(values.registry ?? 'registry.jwks.json', 'utf8')) as { keys: JWK[] };
const keys = new Map<string, DeviceKey>();
for (const jwk of registry.keys) {
  const { kid, alg, sub } = jwk as JWK & { sub: string };
  keys.set(kid as string, { key: (await importJWK(jwk, alg)) as CryptoKey, alg: alg as string, device: sub });
}

const store: TelemetryStore =
  values.store === 'victoriametrics'
    ? new InfluxStore({
        url: values['vm-url'] ?? 'http://127.0.0.1:8428',
        api: 'v2',
        org: '',
        bucket: 'telemetry',
        timeoutMs: 10_000,
        queryMode: 'victoriametrics',
      })
    : // Every write committed by DuckDB before it resolves, as a naive server's own INSERT would be: the store's
      // write journal (docs/STORAGE.md) is the node's batching, which this server is the baseline without.
      await DuckDbStore.open({ path: join(values['data-dir'], 'naive.duckdb'), flushEveryPoints: 1 });

const app = fastify();
app.addContentTypeParser('application/jose', { parseAs: 'string' }, (_request, body, done) => done(null, body));

app.post('/v1/messages', async (request, reply) => {
  const jws = String(request.body).trim();
  const kid = decodeProtectedHeader(jws).kid;
  const trusted = kid === undefined ? undefined : keys.get(kid);
  if (trusted === undefined) return reply.code(401).send({ error: 'unknown key' });
  const { payload } = await compactVerify(jws, trusted.key, { algorithms: [trusted.alg] });
  const message = JSON.parse(new TextDecoder().decode(payload)) as {
    device: string;
    seq: number;
    readings: { ts: number; values: Record<string, number> }[];
  };
  if (message.device !== trusted.device) return reply.code(403).send({ error: 'device mismatch' });
  const readings: Reading[] = message.readings.map((r) => ({ device: message.device, ts: r.ts, values: r.values }));
  await store.write(readings);
  return { status: 'accepted', device: message.device, seq: message.seq, readings: readings.length };
});

app.get('/readyz', async () => ({ ready: true }));

await app.listen({ host: values.host, port: Number(values.port) });
process.stdout.write(`naive baseline listening on http://${values.host}:${values.port}\n`);
const stop = () => {
  void app
    .close()
    .then(() => store.close())
    .finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
