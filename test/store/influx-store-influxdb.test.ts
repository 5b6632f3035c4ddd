import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../src/protocol/message.js';
import { InfluxStore } from '../../src/store/influx-store.js';
import { type InfluxDbServer, startInfluxDb } from '../support/influxdb-server.js';
import { rejection } from './influx-store-support.js';
import { describeStoreContract } from './store-contract.js';
import { AROUND_BASE, BASE, pointsOf, RUN, readingsQuery, uniqueDevice } from './store-fixtures.js';

describe('InfluxStore on InfluxDB 1.6.7 (v1 API, InfluxQL)', () => {
  let server: InfluxDbServer;
  const open = (database = server.database) =>
    new InfluxStore({ url: server.url, api: 'v1', database, timeoutMs: 5_000, queryMode: 'influxql' });

  beforeAll(async () => {
    server = await startInfluxDb();
  });
  afterAll(async () => {
    await server?.stop();
  });

  describeStoreContract('InfluxDB 1.6.7', async () => ({ store: open() }));

  it('keeps floats exactly, whole numbers included', async () => {
    const device = uniqueDevice('floats');
    const values = { a: 21, b: 0.30000000000000004, c: 1e21, d: 5e-324, e: -1.7976931348623157e308, f: 1 / 3, g: -0 };
    await open().write([{ device, ts: BASE, values }]);
    const page = await open().queryReadings({ devices: [device], range: AROUND_BASE, limit: 100 });
    expect(Object.fromEntries(page.items.map((p) => [p.metric, p.value]))).toEqual(values);
  });

  it('stores names with quotes and non-ASCII letters as they are', async () => {
    const device = `${uniqueDevice('names')}-"q'ü`;
    await open().write([{ device, ts: BASE, values: { 'temp "x" é': 4 } }]);
    const page = await open().queryReadings({ devices: [device], range: AROUND_BASE, limit: 10 });
    expect(page.items).toEqual([{ device, metric: 'temp "x" é', ts: BASE, value: 4 }]);
    expect(await open().queryLatest({ devicePrefix: device })).toEqual(page.items);
  });

  it('keeps a backslash in a name doubled, because InfluxDB 1.x does not unescape it', async () => {
    const device = `${uniqueDevice('backslash')}\\x`;
    await open().write([{ device, ts: BASE, values: { t: 1 } }]);
    const latest = await open().queryLatest({ devicePrefix: device.slice(0, -2) });
    expect(latest.map((p) => p.device)).toEqual([device.replace('\\', '\\\\')]);
  });

  it('rejects a write that conflicts with a stored field type as ERR_STORE_REJECTED', async () => {
    const device = uniqueDevice('conflict');
    const body = `telemetry,device=${device} label="text" ${BASE}`;
    const seeded = await fetch(`${server.url}/write?db=${server.database}&precision=ms`, { method: 'POST', body });
    expect(seeded.status).toBe(204);
    await rejection(open().write([{ device, ts: BASE + 1, values: { label: 1 } }]), 'ERR_STORE_REJECTED');
  });

  it('fails a write to a missing database as a retryable ERR_STORE_UNAVAILABLE, since the node is misconfigured, and the retry succeeds once it exists', async () => {
    const database = `created_later_${RUN}`;
    const readings: Reading[] = [{ device: uniqueDevice('misconfigured'), ts: BASE, values: { t: 1 } }];
    const error = await rejection(open(database).write(readings), 'ERR_STORE_UNAVAILABLE');
    expect(error.canRetry()).toBe(true);
    const created = await fetch(`${server.url}/query`, {
      method: 'POST',
      body: new URLSearchParams({ q: `CREATE DATABASE "${database}"` }),
    });
    expect(created.status).toBe(200);
    await open(database).write(readings);
    const page = await open(database).queryReadings(readingsQuery(readings.map((r) => r.device)));
    expect(page.items).toEqual(pointsOf(readings));
  });

  it('reports the store down while it is stopped and works again once it is back', async () => {
    const device = uniqueDevice('outage');
    await server.halt();
    try {
      const error = await rejection(open().write([{ device, ts: BASE, values: { t: 1 } }]), 'ERR_STORE_UNAVAILABLE');
      expect(error.canRetry()).toBe(true);
      await rejection(open().ping(), 'ERR_STORE_UNAVAILABLE');
    } finally {
      await server.resume();
    }
    await open().ping();
    await open().write([{ device, ts: BASE, values: { t: 1 } }]);
    const page = await open().queryReadings({ devices: [device], range: AROUND_BASE, limit: 10 });
    expect(page.items).toEqual([{ device, metric: 't', ts: BASE, value: 1 }]);
  });
});
