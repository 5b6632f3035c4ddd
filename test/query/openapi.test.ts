import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openQueryWorld, type QueryWorld } from './query-fixture.js';

let world: QueryWorld;

beforeAll(async () => {
  world = await openQueryWorld();
});

afterAll(async () => {
  await world?.close();
});

interface Operation {
  tags?: string[];
  summary?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, unknown>;
}

describe('GET /openapi.json', () => {
  it('describes the ingest, query and operations routes from their schemas, without a token', async () => {
    const response = await world.node.app.inject('/openapi.json');
    expect(response.statusCode).toBe(200);
    const doc = response.json() as { openapi: string; paths: Record<string, Record<string, Operation>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/messages',
        '/v1/messages/batch',
        '/v1/query/readings',
        '/v1/query/windows',
        '/v1/query/latest',
        '/v1/query/series',
        '/healthz',
        '/readyz',
        '/metrics',
      ]),
    );
    expect(doc.paths['/openapi.json']).toBeUndefined();

    const send = doc.paths['/v1/messages']?.post;
    expect(send?.tags).toEqual(['ingest']);
    expect(Object.keys(send?.requestBody?.content ?? {})).toEqual(['application/jose']);
    expect(Object.keys(send?.responses ?? {})).toEqual(['200', 'default']);

    const readings = doc.paths['/v1/query/readings']?.get;
    expect(readings?.security).toEqual([{ operatorToken: [] }]);
    const params = Object.fromEntries((readings?.parameters ?? []).map((p) => [p.name, p]));
    expect(Object.keys(params).sort()).toEqual([
      'all',
      'cursor',
      'device',
      'format',
      'from',
      'limit',
      'metric',
      'prefix',
      'to',
    ]);
    expect(params.device).toMatchObject({ in: 'query', required: false });
    expect(Object.keys(readings?.responses ?? {})).toEqual(['200', '400', '401', '403', '503']);
    const windows = doc.paths['/v1/query/windows']?.get;
    expect((windows?.parameters ?? []).map((p) => p.name)).toEqual(expect.arrayContaining(['windowMs', 'aggregate']));
  });
});
