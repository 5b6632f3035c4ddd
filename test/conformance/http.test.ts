import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestNode } from '../../ingest/build-ingest.js';
import type { HeldStore } from '../support/held-store.js';
import { type ConformanceCase, casesFor } from './cases.js';
import { type ErrorRow, readErrorTable, type Transport } from './error-table.js';
import { expectErrorAnswer, expectRejectedEntry, type HttpAnswer, stalledRequest } from './http-checks.js';
import { arrange, buildWorldNode, openStore, openWorld, validMessage, type World } from './world.js';

const rows = new Map(readErrorTable().map((row) => [row.code, row]));
let world: World;
let store: HeldStore;
let node: IngestNode;
let port: number;

beforeAll(async () => {
  world = await openWorld();
  store = await openStore();
  // Short HTTP timeouts, so a stalled body is answered 408 within about two seconds.
  node = await buildWorldNode(world, store, {
    TELEMETRY_HTTP_HEADERS_TIMEOUT_SECONDS: '1',
    TELEMETRY_HTTP_REQUEST_TIMEOUT_SECONDS: '1',
  });
  await node.app.listen({ host: '127.0.0.1', port: 0 });
  port = (node.app.server.address() as { port: number }).port;
});

afterAll(async () => {
  store.release();
  store.heal();
  await node?.close(1000);
  await store?.close();
});

const ROUTE: Record<'http-single' | 'http-batch', { url: string; type: string; wrap(message: string): string }> = {
  'http-single': { url: '/v1/messages', type: 'application/jose', wrap: (message) => message },
  'http-batch': {
    url: '/v1/messages/batch',
    type: 'application/json',
    wrap: (message) => JSON.stringify({ messages: [message] }),
  },
};

function answerOf(response: { statusCode: number; headers: HttpAnswer['headers']; body: string }): HttpAnswer {
  return { status: response.statusCode, headers: response.headers, body: response.body };
}

async function send(on: IngestNode, transport: 'http-single' | 'http-batch', message: string): Promise<HttpAnswer> {
  const route = ROUTE[transport];
  const response = await on.app.inject({
    method: 'POST',
    url: route.url,
    headers: { 'content-type': route.type },
    payload: route.wrap(message),
  });
  return answerOf(response);
}

/** Sends what the case describes on `transport` and returns the answer; conditions are undone after. */
async function provoke(c: ConformanceCase, transport: 'http-single' | 'http-batch'): Promise<HttpAnswer> {
  const { provoke: p } = c;
  const route = ROUTE[transport];
  switch (p.kind) {
    case 'message':
      return send(node, transport, p.message);
    case 'condition': {
      // Draining cannot be undone: it gets a node of its own.
      const own = p.condition === 'draining' ? await buildWorldNode(world, store) : node;
      const arranged = await arrange(world, own, store, p.condition);
      try {
        return await send(own, transport, arranged.message);
      } finally {
        await arranged.undo();
        if (own !== node) await own.close(1000);
      }
    }
    case 'http':
      switch (p.request) {
        case 'wrong-media-type': {
          const message = await validMessage(world, 'sensor-es256', 1);
          const type = transport === 'http-single' ? 'application/json' : 'application/jose';
          const response = await node.app.inject({
            method: 'POST',
            url: route.url,
            headers: { 'content-type': type },
            payload: route.wrap(message),
          });
          return answerOf(response);
        }
        case 'no-such-route': {
          const response = await node.app.inject({
            method: transport === 'http-single' ? 'GET' : 'DELETE',
            url: route.url,
          });
          return answerOf(response);
        }
        case 'slow-body':
          return stalledRequest(
            port,
            `POST ${route.url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${route.type}\r\nContent-Length: 1000`,
            transport === 'http-single' ? 'eyJhbGciOi' : '{"messages":["eyJ',
          );
        case 'oversized-batch': {
          const message = await validMessage(world, 'sensor-es256', 1);
          const response = await node.app.inject({
            method: 'POST',
            url: route.url,
            headers: { 'content-type': route.type },
            payload: JSON.stringify({ messages: Array(1001).fill(message) }),
          });
          return answerOf(response);
        }
        case 'malformed-batch': {
          const response = await node.app.inject({
            method: 'POST',
            url: route.url,
            headers: { 'content-type': route.type },
            payload: JSON.stringify({ messages: 'not an array' }),
          });
          return answerOf(response);
        }
      }
      break;
    default:
      throw new Error(`the HTTP suite cannot provoke ${p.kind}`);
  }
  throw new Error('unreachable');
}

function rowOf(c: ConformanceCase): ErrorRow {
  const row = rows.get(c.code);
  if (row === undefined) throw new Error(`${c.code} is not in docs/PROTOCOL.md §11`);
  return row;
}

function named(transport: Transport) {
  return casesFor(transport).map((c) => [`${c.code}: ${c.name}`, c] as const);
}

describe('POST /v1/messages answers every code as docs/PROTOCOL.md §11 says', () => {
  it.each(named('http-single'))('%s', async (_name, c) => {
    expectErrorAnswer(await provoke(c, 'http-single'), rowOf(c));
  });
});

describe('POST /v1/messages/batch answers every code as docs/PROTOCOL.md §11 says, per message or per request', () => {
  it.each(named('http-batch'))('%s', async (_name, c) => {
    const answer = await provoke(c, 'http-batch');
    if (c.batch === 'request') expectErrorAnswer(answer, rowOf(c));
    else expectRejectedEntry(answer, rowOf(c));
  });

  it('still stores a valid batch after all of them', async () => {
    const answer = await send(node, 'http-batch', await validMessage(world, 'sensor-eddsa', 7));
    expect(JSON.parse(answer.body).results).toEqual([expect.objectContaining({ status: 'accepted' })]);
  });
});
