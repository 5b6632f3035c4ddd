import { errorCodes } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIngest, type IngestNode } from '../../ingest/build-ingest.js';
import { FASTIFY_CLIENT_FAULTS } from '../../ingest/http/client-faults.js';
import { parseConfig } from '../../src/config/parse-config.js';
import { DeviceKeys, signMessage } from '../../src/index.js';
import { DuckDbStore } from '../../src/store/duckdb-store.js';
import { makeDevice, registryOf, type TestDevice } from '../support/devices.js';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
let device: TestDevice;
let store: DuckDbStore;
let node: IngestNode;
let jws: string;

beforeAll(async () => {
  device = await makeDevice(`faults-${process.pid}`, 'EdDSA');
  store = await DuckDbStore.open({ path: ':memory:' });
  node = await buildIngest({
    config: parseConfig({ TELEMETRY_BATCH_MAX_WAIT_MS: '1' }),
    store,
    keys: new DeviceKeys({ registry: () => registryOf(device) }),
    now: () => NOW,
  });
  jws = await signMessage(device.signer, 1, [{ ts: NOW - 10, values: { t: 1 } }]);
});

afterAll(async () => {
  await node.close(1000);
  await store.close();
});

/** Sends a request and returns its status and body: the answer must be a client fault, in the project's shape. */
async function answer(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, contentType?: string, payload?: string) {
  const response = await node.app.inject({
    method,
    url,
    ...(contentType === undefined ? {} : { headers: { 'content-type': contentType } }),
    ...(payload === undefined ? {} : { payload }),
  });
  return { status: response.statusCode, body: response.json(), retryAfter: response.headers['retry-after'] };
}

/** Checks a refusal: its status, code, retryable false and no Retry-After (a device must not resend it). */
function expectClientFault(got: Awaited<ReturnType<typeof answer>>, status: number, code: string): void {
  expect({ status: got.status, code: got.body.error?.code, retryable: got.body.error?.retryable }).toEqual({
    status,
    code,
    retryable: false,
  });
  expect(got.retryAfter).toBeUndefined();
}

describe('client faults on the HTTP routes', () => {
  it.each([
    ['application/json', 'a compact JWS'],
    ['application/json; charset=utf-8', 'a compact JWS'],
    ['application/x-www-form-urlencoded', 'a compact JWS'],
    ['application/octet-stream', 'a compact JWS'],
  ])('answers POST /v1/messages as %s with 415 ERR_UNSUPPORTED_MEDIA_TYPE', async (type) => {
    expectClientFault(await answer('POST', '/v1/messages', type, jws), 415, 'ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers POST /v1/messages/batch as application/jose with 415 ERR_UNSUPPORTED_MEDIA_TYPE', async () => {
    const got = await answer('POST', '/v1/messages/batch', 'application/jose', jws);
    expectClientFault(got, 415, 'ERR_UNSUPPORTED_MEDIA_TYPE');
  });

  it.each([
    'this is not json',
    '{"messages": [',
    '',
    '{"__proto__":{"messages":["x"]}}',
    '{"constructor":{"prototype":{"messages":["x"]}}}',
    '{"messages":"x"}',
    '{"messages":5}',
    '{"messages":null}',
    '{"messages":[]}',
    '{"messages":[1]}',
    '{"messages":[null]}',
    '{"messages":[["x"]]}',
    '{"messages":[true]}',
    '[1,2]',
    '[null]',
    '"x"',
    'null',
    '{}',
    '{"messages":["x"],"extra":1}',
  ])('answers the batch body %j with 400 ERR_MESSAGE_MALFORMED, storing nothing', async (body) => {
    expectClientFault(
      await answer('POST', '/v1/messages/batch', 'application/json', body),
      400,
      'ERR_MESSAGE_MALFORMED',
    );
  });

  it('still takes a well-formed batch', async () => {
    const got = await answer('POST', '/v1/messages/batch', 'application/json', JSON.stringify({ messages: [jws] }));
    expect(got.status).toBe(200);
    expect(got.body.results).toEqual([expect.objectContaining({ status: 'accepted' })]);
  });

  it.each([
    ['GET', '/no-such-route'],
    ['GET', '/v1/messages'],
    ['PUT', '/v1/messages'],
    ['DELETE', '/v1/messages/batch'],
    ['GET', '/v2/anything?x=1'],
  ] as const)('answers %s %s, which the node does not serve, with 404 ERR_NOT_FOUND', async (method, url) => {
    expectClientFault(await answer(method, url), 404, 'ERR_NOT_FOUND');
  });

  it('answers a query with a malformed parameter with 400, never a 5xx', async () => {
    const got = await answer('GET', '/v1/query/readings?device=x&from=not-a-time');
    expect(got.status).toBeLessThan(500);
    expect(got.body.error.retryable).toBe(false);
  });
});

describe('the table of fastify client faults', () => {
  it('maps every fastify error code with a 4xx status, so none reaches a client as a 5xx', () => {
    const clientFaults = Object.entries(errorCodes)
      .filter(([, make]) => {
        const status = new (make as new (...args: string[]) => { statusCode?: number })('a', 'b', 'c').statusCode;
        return status !== undefined && status >= 400 && status < 500;
      })
      .map(([code]) => code)
      .sort();
    expect(Object.keys(FASTIFY_CLIENT_FAULTS).sort()).toEqual(clientFaults);
  });
});
