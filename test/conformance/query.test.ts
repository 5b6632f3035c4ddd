import { afterAll, beforeAll, describe, it } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { TelemetryError } from '../../src/index.js';
import { makeOperatorIssuer, type OperatorIssuer } from '../query/query-fixture.js';
import type { HeldStore } from '../support/held-store.js';
import { type ConformanceCase, casesFor } from './cases.js';
import { readErrorTable } from './error-table.js';
import { expectErrorAnswer, type HttpAnswer } from './http-checks.js';
import { NOW, openStore, openWorld, STORE_RETRY_AFTER } from './world.js';

const rows = new Map(readErrorTable().map((row) => [row.code, row]));
const RANGE = `from=${NOW - 3_600_000}&to=${NOW}`;
let store: HeldStore;
let node: IngestNode;
let operators: OperatorIssuer;

beforeAll(async () => {
  const world = await openWorld();
  operators = await makeOperatorIssuer();
  store = await openStore();
  node = await buildIngest({
    config: parseConfig({}),
    store,
    keys: world.keys,
    operatorIssuers: () => operators.issuers,
    now: () => NOW,
  });
});

afterAll(async () => {
  await node?.close(1000);
  await store?.close();
});

async function get(url: string, scope: string | undefined): Promise<HttpAnswer> {
  const token = scope === undefined ? undefined : await operators.token(scope);
  const response = await node.app.inject({
    method: 'GET',
    url,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.statusCode, headers: response.headers, body: response.body };
}

/** A cursor the node handed out for another query: readings of another device, one item per page. */
async function cursorOfAnotherQuery(): Promise<string> {
  await store.write([
    { device: 'sensor-eddsa', ts: NOW - 2000, values: { t: 1 } },
    { device: 'sensor-eddsa', ts: NOW - 1000, values: { t: 2 } },
  ]);
  const page = await get(`/v1/query/readings?device=sensor-eddsa&${RANGE}&limit=1`, 'read');
  const cursor = (JSON.parse(page.body) as { nextCursor?: string }).nextCursor;
  if (cursor === undefined) throw new Error('the first page should have had a next cursor');
  return cursor;
}

async function provoke(c: ConformanceCase): Promise<HttpAnswer> {
  const { provoke: p } = c;
  if (p.kind !== 'query') throw new Error(`the query suite cannot provoke ${p.kind}`);
  const readings = `/v1/query/readings?device=sensor-es256&${RANGE}`;
  switch (p.request) {
    case 'missing-range':
      return get('/v1/query/readings?device=sensor-es256', 'read');
    case 'foreign-cursor':
      return get(`${readings}&cursor=${encodeURIComponent(await cursorOfAnotherQuery())}`, 'read');
    case 'no-token':
      return get(readings, undefined);
    case 'device-outside-scope':
      return get(readings, 'read:device:sensor-eddsa');
    case 'store-down': {
      const queryReadings = store.queryReadings;
      store.queryReadings = async () => {
        throw new TelemetryError('ERR_STORE_UNAVAILABLE', 'the store is down', { retryAfter: STORE_RETRY_AFTER });
      };
      try {
        return await get(readings, 'read');
      } finally {
        store.queryReadings = queryReadings;
      }
    }
  }
}

describe('the query API answers every code docs/QUERY.md documents as docs/PROTOCOL.md §11 says', () => {
  it.each(casesFor('query').map((c) => [`${c.code}: ${c.name}`, c] as const))('%s', async (_name, c) => {
    const row = rows.get(c.code);
    if (row === undefined) throw new Error(`${c.code} is not in docs/PROTOCOL.md §11`);
    expectErrorAnswer(await provoke(c), row);
  });
});
