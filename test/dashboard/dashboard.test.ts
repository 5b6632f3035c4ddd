import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestNode } from '../../ingest/build-ingest.js';
import { signMessage } from '../../src/index.js';
import type { Reading } from '../../src/protocol/message.js';
import { MINUTE, type OperatorIssuer, openQueryWorld, pointsOf, type QueryWorld } from '../query/query-fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = 'test-results/dashboard.png';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface PlottedChart {
  readonly metric: string;
  readonly source: string;
  readonly ts: number[];
  readonly values: number[];
}

/** What the page plotted: read back from each chart's uPlot instance. */
async function plotted(page: Page): Promise<PlottedChart[]> {
  // The tests compile without the DOM library: the figure is described by what is read from it.
  type ChartFigure = {
    getAttribute(name: string): string | null;
    chart: { data: [ArrayLike<number>, ArrayLike<number | null>] };
  };
  return page.$$eval('#charts figure.chart', (figures) =>
    figures.map((element): PlottedChart => {
      const figure = element as unknown as ChartFigure;
      return {
        metric: figure.getAttribute('data-metric') ?? '',
        source: figure.getAttribute('data-source') ?? '',
        ts: Array.from(figure.chart.data[0]),
        values: Array.from(figure.chart.data[1], (v: number | null) => v ?? Number.NaN),
      };
    }),
  );
}

describe('the dashboard page in a real browser', () => {
  let world: QueryWorld;
  let node: IngestNode;
  let operators: OperatorIssuer;
  let url: string;
  let profile: string;
  let context: BrowserContext | undefined;
  const written: Reading[] = [];
  let rejectedCode: string;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install the Debian package "chromium" (scripts/install-test-deps.sh)`);
    }
    world = await openQueryWorld();
    operators = world.operators;
    // The browser's clock is the real one, so the node's is too: "last hour" means the same to both.
    node = await world.buildNode({ now: 'real' });
    await node.app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(node.app.server.address() as AddressInfo).port}`;

    // Known data, through the real ingest path: signed, verified, batched, stored.
    const now = Date.now();
    const { boiler1, boiler2, pump } = world.devices;
    const plan = [
      { device: boiler1, count: 30, values: (i: number) => ({ temperature: 20 + i / 4, pressure: 1 + (i % 5) / 100 }) },
      { device: boiler2, count: 12, values: (i: number) => ({ temperature: 55 - i }) },
      { device: pump, count: 8, values: (i: number) => ({ rpm: 900 + 10 * i }) },
    ];
    for (const { device, count, values } of plan) {
      const readings = Array.from({ length: count }, (_, i) => ({
        device: device.id,
        ts: now - (count - i) * MINUTE + 17,
        values: values(i),
      }));
      const message = await signMessage(
        device.signer,
        1,
        readings.map(({ ts, values }) => ({ ts, values })),
      );
      const response = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/jose' },
        body: message,
      });
      expect(response.status).toBe(200);
      written.push(...readings);
    }
    // One message the node refuses, so the node panel has a rejection to show.
    const refused = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/jose' },
      body: 'not.a.jws',
    });
    expect(refused.ok).toBe(false);
    rejectedCode = ((await refused.json()) as { error: { code: string } }).error.code;

    profile = await mkdtemp(join(tmpdir(), 'dashboard-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 1000 },
    });
  });

  afterAll(async () => {
    await context?.close();
    if (profile !== undefined) await rm(profile, { recursive: true, force: true });
    await world?.close();
  });

  it('asks for a token, lists the fleet and plots the stored readings of a device', async () => {
    if (context === undefined) throw new Error('no browser');
    const page = await context.newPage();
    const problems: string[] = [];
    const requested: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('request', (request) => requested.push(request.url()));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });

    const landing = await page.goto(`${url}/dashboard`);
    expect(landing?.url()).toBe(`${url}/dashboard/`);
    await page.waitForSelector('#notice[data-kind="warn"]');
    expect(await page.textContent('#notice')).toContain('Paste an operator token');
    expect(await page.$$('#fleet-table tbody tr')).toHaveLength(0);

    const token = await operators.token('read', { now: Date.now() });
    await page.fill('#token', token);
    await page.click('#token-form button[type="submit"]');

    // The fleet: every device, with the newest reading written as its last-seen time.
    await page.waitForSelector('#fleet-table tbody tr[data-device="pump-1"]');
    const fleet = await page.$$eval('#fleet-table tbody tr', (rows) =>
      rows.map((row) => ({
        device: row.getAttribute('data-device'),
        lastSeen: Number(row.querySelector('.last-seen')?.getAttribute('data-ts')),
      })),
    );
    const newest = new Map<string, number>();
    for (const r of written) newest.set(r.device, Math.max(newest.get(r.device) ?? 0, r.ts));
    expect(fleet.sort((a, b) => (a.device ?? '').localeCompare(b.device ?? ''))).toEqual(
      [...newest].sort(([a], [b]) => a.localeCompare(b)).map(([device, lastSeen]) => ({ device, lastSeen })),
    );

    // This node's counters, with the rejected message under its code.
    await page.waitForSelector(`#rejected-table tbody tr[data-code="${rejectedCode}"]`);
    expect(await page.textContent('#accepted-total')).toBe('3');
    expect(await page.textContent('#readings-total')).toBe(String(written.length));

    // The chart of a device over the last hour: the raw readings, exactly as written.
    await page.click('#fleet-table tbody tr[data-device="boiler-1"]');
    await page.waitForSelector('#charts[data-state="ready"][data-device="boiler-1"] figure.chart');
    const charts = await plotted(page);
    const expected = pointsOf(written.filter((r) => r.device === 'boiler-1'));
    expect(charts.map((c) => c.metric).sort()).toEqual(['pressure', 'temperature']);
    for (const chart of charts) {
      const points = expected.filter((p) => p.metric === chart.metric);
      expect(chart.source).toBe('readings');
      expect(chart.ts).toEqual(points.map((p) => p.ts));
      expect(chart.values).toEqual(points.map((p) => p.value));
    }
    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // A long range reads windows: the same ones the store computes.
    await page.selectOption('#range-select', String(24 * 60 * MINUTE));
    await page.waitForSelector('#charts[data-state="ready"] figure.chart[data-source^="windows"]');
    const windowed = await plotted(page);
    for (const chart of windowed) {
      const [, windowMs, aggregate] = chart.source.split(':');
      expect(aggregate).toBe('mean');
      const page = await world.store.queryWindows({
        devices: ['boiler-1'],
        metrics: [chart.metric],
        range: { start: Date.now() - 24 * 60 * MINUTE - MINUTE, end: Date.now() + MINUTE },
        windowMs: Number(windowMs),
        aggregate: 'mean',
        limit: 10_000,
      });
      expect(chart.ts).toEqual(page.items.map((p) => p.ts));
      expect(chart.values).toEqual(page.items.map((p) => p.value));
    }

    // The token went only into Authorization headers, and the page ran without errors (CSP included).
    expect(requested.filter((u) => u.includes(token))).toEqual([]);
    expect(problems).toEqual([]);
  });
});
