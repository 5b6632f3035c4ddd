/**
 * Shared setup of the query route suites (query-routes*.test.ts): a query world whose store holds recent readings,
 * sent through the real ingest path, and old ones written directly; a GET with the `read` token; and what the
 * answers are checked against. A suite calls {@link useQueryRoutesWorld} once to register the hooks; `world` is a
 * live binding they assign, and `recent` and `old` are filled by them.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, expect } from 'vitest';
import type { IngestNode } from '../../ingest/build-ingest.js';
import { signMessage } from '../../src/index.js';
import type { Reading } from '../../src/protocol/message.js';
import type { Aggregate, StoredPoint } from '../../src/store/telemetry-store.js';
import { DAY, MINUTE, NOW, openQueryWorld, type QueryWorld } from './query-fixture.js';

export let world: QueryWorld;
let readToken: string;
/** Readings sent through the node: signed, verified, batched, stored. */
export const recent: Reading[] = [];
/** Readings older than any node accepts, written to the store directly. */
export const old: Reading[] = [];
export const OLD_START = NOW - 30 * DAY;

/** A GET on the node with the `read` token unless told otherwise. */
export function get(url: string, headers: Record<string, string> = {}, node: IngestNode = world.node) {
  return node.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${readToken}`, ...headers } });
}

export function qs(params: Record<string, string | number | readonly string[]>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) search.append(name, String(v));
  }
  return search.toString();
}

export function errorCode(response: LightMyRequestResponse): string {
  return (response.json() as { error: { code: string } }).error.code;
}

/** Every item of a paged query, following nextCursor, with the size of each page. */
export async function allPages(
  path: string,
  params: Record<string, string | number | readonly string[]>,
  node?: IngestNode,
) {
  const items: StoredPoint[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 1000; i++) {
    const response = await get(`${path}?${qs({ ...params, ...(cursor === undefined ? {} : { cursor }) })}`, {}, node);
    expect(response.statusCode).toBe(200);
    const body = response.json() as { items: StoredPoint[]; nextCursor?: string };
    items.push(...body.items);
    sizes.push(body.items.length);
    cursor = body.nextCursor;
    if (cursor === undefined) return { items, sizes };
  }
  throw new Error('paging did not end');
}

/** Windowed aggregates computed here, independently of the store. */
export function expectedWindows(points: readonly StoredPoint[], windowMs: number, aggregate: Aggregate) {
  const groups = new Map<string, StoredPoint[]>();
  for (const p of points) {
    const start = p.ts - (((p.ts % windowMs) + windowMs) % windowMs);
    const key = JSON.stringify([p.device, p.metric, start]);
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  return [...groups.entries()].map(([key, group]) => {
    const [device, metric, ts] = JSON.parse(key) as [string, string, number];
    const values = group.map((p) => p.value);
    const last = group.reduce((a, b) => (b.ts > a.ts ? b : a)).value;
    const value = {
      mean: values.reduce((a, b) => a + b, 0) / values.length,
      min: Math.min(...values),
      max: Math.max(...values),
      sum: values.reduce((a, b) => a + b, 0),
      count: values.length,
      last,
    }[aggregate];
    return { device, metric, ts, value };
  });
}

export function useQueryRoutesWorld(): void {
  beforeAll(async () => {
    world = await openQueryWorld();
    readToken = await world.operators.token('read');
    const { boiler1, boiler2, pump } = world.devices;
    const batches: Array<[typeof boiler1, Reading[]]> = [
      [
        boiler1,
        Array.from({ length: 12 }, (_, i) => ({
          device: boiler1.id,
          ts: NOW - 30 * MINUTE + i * 2 * MINUTE + 7,
          values: { temperature: 20 + i * 0.25, pressure: 1 + i / 100 },
        })),
      ],
      [
        boiler2,
        Array.from({ length: 6 }, (_, i) => ({
          device: boiler2.id,
          ts: NOW - 20 * MINUTE + i * 3 * MINUTE + 1,
          values: { temperature: 30 - i * 1.5 },
        })),
      ],
      [
        pump,
        Array.from({ length: 4 }, (_, i) => ({
          device: pump.id,
          ts: NOW - 10 * MINUTE + i * MINUTE,
          values: { rpm: 900 + i * 10 },
        })),
      ],
    ];
    // Recent readings go through the real ingest path: signed, verified, batched, stored.
    for (const [device, readings] of batches) {
      const message = await signMessage(
        device.signer,
        1,
        readings.map(({ ts, values }) => ({ ts, values })),
      );
      const response = await world.node.app.inject({
        method: 'POST',
        url: '/v1/messages',
        headers: { 'content-type': 'application/jose' },
        payload: message,
      });
      expect(response.statusCode).toBe(200);
      recent.push(...readings);
    }
    // Readings older than any node accepts can only be in the store from the past: write them directly.
    old.push(
      ...Array.from({ length: 10 }, (_, i) => ({
        device: boiler1.id,
        ts: OLD_START + i * MINUTE,
        values: { temperature: 10 + i },
      })),
    );
    await world.store.write(old);
  });

  afterAll(async () => {
    await world?.close();
  });
}
