import { mkdir, rm } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../src/protocol/message.js';
import { type FleetNode, provisionAndStart } from '../simulator/fleet-node.js';
import { type DashboardBrowser, launchDashboardBrowser, plotted } from './dashboard-browser.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DEVICES = 500;
/** Devices 0, 17, 34, ... stopped sending a while ago: 30 of them. */
const SILENT_EVERY = 17;
const GAPPY = 'sensor-007';
const METRICS = ['battery', 'humidity', 'temp'] as const;
const SCREENSHOTS = 'test-results';

const id = (n: number) => `sensor-${String(n).padStart(3, '0')}`;
const isSilent = (n: number) => n % SILENT_EVERY === 0;

/**
 * The fleet the store holds: 500 devices reporting every 30 s for the last 10 minutes, but 30 silent for
 * 20 min to 3 h, and one device with readings every 10 s and a 20-minute hole.
 */
function fleetReadings(now: number): { readings: Reading[]; latest: Map<string, Reading> } {
  const readings: Reading[] = [];
  const latest = new Map<string, Reading>();
  const values = (n: number, t: number) => ({
    battery: 100 - (n % 40) - t / HOUR,
    humidity: 30 + (n % 50) + Math.sin(t / (5 * MINUTE)) * 5,
    temp: 15 + (n % 23) * 0.5 + Math.sin(t / (7 * MINUTE) + n),
  });
  for (let n = 0; n < DEVICES; n++) {
    const device = id(n);
    const end = isSilent(n) ? now - 20 * MINUTE - (n / SILENT_EVERY) * 5 * MINUTE : now - (n % 30) * SECOND;
    const times: number[] = [];
    if (device === GAPPY) {
      for (let t = now - 50 * MINUTE; t <= now - 35 * MINUTE; t += 10 * SECOND) times.push(t);
      for (let t = now - 15 * MINUTE; t <= end; t += 10 * SECOND) times.push(t);
    } else {
      for (let t = end - 10 * MINUTE; t <= end; t += 30 * SECOND) times.push(Math.round(t));
    }
    for (const ts of times) readings.push({ device, ts, values: values(n, ts - (now - HOUR)) });
    const last = readings.at(-1);
    if (last !== undefined) latest.set(device, last);
  }
  return { readings, latest };
}

/** The fleet table's rows as shown: device, last seen, and each metric column's value. */
async function rows(page: Page) {
  return page.$$eval('#fleet-table tbody tr', (trs) =>
    trs.map((tr) => ({
      device: tr.getAttribute('data-device') ?? '',
      lastSeen: Number(tr.querySelector('.last-seen')?.getAttribute('data-ts')),
      silent: tr.querySelector('.last-seen .badge') !== null,
      values: Object.fromEntries(
        [...tr.querySelectorAll('td.value')].map((td) => [
          td.getAttribute('data-metric') ?? '',
          Number(td.getAttribute('data-value')),
        ]),
      ),
    })),
  );
}

describe('the dashboard over a fleet of 500 devices, in a real browser', () => {
  let node: FleetNode | undefined;
  let dir: string | undefined;
  let browser: DashboardBrowser | undefined;
  let page: Page;
  let now: number;
  let latest: Map<string, Reading>;
  const problems: string[] = [];

  beforeAll(async () => {
    browser = await launchDashboardBrowser();
    ({ dir, node } = await provisionAndStart({ name: 'dashboard-fleet', keySource: 'registry', devices: 1 }));
    now = Date.now();
    const fleet = fleetReadings(now);
    latest = fleet.latest;
    // Straight into the store: the page reads only the query API, whatever wrote what it answers.
    await node.store.write(fleet.readings);
    page = await browser.context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${node.httpUrl}/dashboard/`);
    await page.fill('#token', node.operatorToken);
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector('#fleet-table tbody tr');
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await node?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('shows the fleet a page at a time, newest first, with a column per metric holding its latest value', async () => {
    expect(await page.textContent('#fleet-count')).toBe(`(${DEVICES} devices)`);
    const headers = await page.$$eval('#fleet-table thead th', (ths) =>
      ths.map((th) => th.getAttribute('data-column')),
    );
    expect(headers).toEqual(['device', 'lastSeen', ...METRICS.map((m) => `metric:${m}`)]);
    const first = await rows(page);
    expect(first).toHaveLength(25);
    expect(await page.textContent('#fleet-page')).toBe(`1–25 of ${DEVICES}`);
    const newestFirst = [...latest.values()].sort((a, b) => b.ts - a.ts || a.device.localeCompare(b.device));
    expect(first.map((r) => r.device)).toEqual(newestFirst.slice(0, 25).map((r) => r.device));
    for (const row of first) {
      const reading = latest.get(row.device);
      expect(row.lastSeen).toBe(reading?.ts);
      expect(row.values).toEqual(reading?.values);
    }
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-fleet-500.png`, fullPage: true });

    await page.click('#fleet-next');
    expect((await rows(page)).map((r) => r.device)).toEqual(newestFirst.slice(25, 50).map((r) => r.device));
    expect(await page.textContent('#fleet-page')).toBe(`26–50 of ${DEVICES}`);
    await page.selectOption('#fleet-page-size', '100');
    expect(await rows(page)).toHaveLength(100);
    await page.selectOption('#fleet-page-size', '25');
  });

  it('finds the silent devices: a badge on each, one click to list them longest silent first', async () => {
    const silent = [...latest.values()].filter((r) => now - r.ts >= 5 * MINUTE).sort((a, b) => a.ts - b.ts);
    expect(silent).toHaveLength(Math.ceil(DEVICES / SILENT_EVERY));
    expect(await page.textContent('#silent-count')).toBe(`${silent.length} silent > 5 min`);
    await page.click('#silent-count');
    const shown = await rows(page);
    expect(shown.map((r) => r.device)).toEqual(silent.slice(0, 25).map((r) => r.device));
    expect(shown.every((r) => r.silent)).toBe(true);
    expect(await page.textContent('#fleet-page')).toBe(`1–25 of ${silent.length}`);
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-fleet-silent.png`, fullPage: true });

    await page.selectOption('#fleet-silent', String(HOUR));
    const overAnHour = silent.filter((r) => now - r.ts >= HOUR);
    expect((await rows(page)).map((r) => r.device)).toEqual(overAnHour.map((r) => r.device));
    await page.selectOption('#fleet-silent', '0');
  });

  it('searches by device id and sorts by any column, both ways', async () => {
    await page.fill('#fleet-search', 'sensor-04');
    await page.click('#fleet-table th[data-column="device"] button');
    expect((await rows(page)).map((r) => r.device)).toEqual(Array.from({ length: 10 }, (_, i) => id(40 + i)));
    await page.click('#fleet-table th[data-column="device"] button');
    expect((await rows(page)).map((r) => r.device)).toEqual(Array.from({ length: 10 }, (_, i) => id(49 - i)));

    await page.fill('#fleet-search', '');
    await page.click('#fleet-table th[data-column="metric:temp"] button');
    const byTemp = [...latest.values()].sort(
      (a, b) => (a.values.temp ?? 0) - (b.values.temp ?? 0) || a.device.localeCompare(b.device),
    );
    expect((await rows(page)).map((r) => r.device)).toEqual(byTemp.slice(0, 25).map((r) => r.device));
    expect(await page.getAttribute('#fleet-table th[data-column="metric:temp"]', 'aria-sort')).toBe('ascending');
    await page.click('#fleet-table th[data-column="metric:temp"] button');
    expect((await rows(page)).map((r) => r.device)).toEqual(
      byTemp
        .reverse()
        .slice(0, 25)
        .map((r) => r.device),
    );
  });

  it('breaks the line where readings stopped, and fits the time axis to the readings present', async () => {
    await page.fill('#fleet-search', GAPPY);
    await page.click(`#fleet-table tbody tr[data-device="${GAPPY}"]`);
    await page.waitForSelector(`#charts[data-state="ready"][data-device="${GAPPY}"] figure.chart`);
    const charts = await plotted(page);
    expect(charts.map((c) => c.metric).sort()).toEqual([...METRICS]);
    const gaps = await page.$$eval('#charts figure.chart', (figures) =>
      figures.map((f) => JSON.parse(f.getAttribute('data-gaps') ?? '[]') as Array<[number, number]>),
    );
    // The one hole: from the last reading before it to the first after it.
    for (const chartGaps of gaps) expect(chartGaps).toEqual([[now - 35 * MINUTE, now - 15 * MINUTE]]);
    // Last hour chosen; the readings start 50 minutes ago, so the axis starts just before them, not an hour ago.
    for (const chart of charts) {
      expect(chart.from).toBeGreaterThan(now - HOUR);
      expect(chart.from).toBeLessThanOrEqual(now - 50 * MINUTE);
      expect(chart.to).toBeGreaterThanOrEqual(Math.max(...chart.ts));
    }
    await page.screenshot({ path: `${SCREENSHOTS}/dashboard-gaps.png`, fullPage: true });

    // A device that sent for 10 minutes, over 24 hours: the axis spans its readings, not the whole day.
    const device = id(100);
    await page.fill('#fleet-search', device);
    await page.click(`#fleet-table tbody tr[data-device="${device}"]`);
    await page.selectOption('#range-select', String(24 * HOUR));
    await page.waitForSelector(
      `#charts[data-state="ready"][data-device="${device}"] figure.chart[data-source^="windows"]`,
    );
    for (const chart of await plotted(page)) expect(chart.to - chart.from).toBeLessThan(HOUR);
    // Unticked, it shows the whole range chosen.
    await page.uncheck('#zoom-to-data');
    await page.waitForFunction(() => {
      type Figure = { chart?: { scales: { x: { min?: number; max?: number } } } };
      const doc = (globalThis as unknown as { document: { querySelector(s: string): Figure | null } }).document;
      const x = doc.querySelector('#charts[data-state="ready"] figure.chart')?.chart?.scales.x;
      return x?.min !== undefined && x.max !== undefined && x.max - x.min > 23 * 3_600_000;
    });
    await page.check('#zoom-to-data');
    await page.selectOption('#range-select', String(HOUR));
  });

  it('redraws the charts of a preset range as new readings arrive, while live', async () => {
    await page.fill('#fleet-search', GAPPY);
    await page.click(`#fleet-table tbody tr[data-device="${GAPPY}"]`);
    await page.waitForSelector(`#charts[data-state="ready"][data-device="${GAPPY}"] figure.chart`);
    expect(await page.isChecked('#live')).toBe(true);
    const before = (await plotted(page)).find((c) => c.metric === 'temp')?.ts.length ?? 0;
    await node?.store.write([{ device: GAPPY, ts: Date.now(), values: { temp: 21.5, humidity: 40, battery: 90 } }]);
    // Nothing is clicked: the page reads the range again by itself.
    await page.waitForFunction(
      (count) => {
        type Figure = { getAttribute(name: string): string | null };
        const doc = (globalThis as unknown as { document: { querySelector(s: string): Figure | null } }).document;
        return (
          Number(doc.querySelector('#charts figure.chart[data-metric="temp"]')?.getAttribute('data-points')) > count
        );
      },
      before,
      { timeout: 20_000 },
    );
    expect(problems).toEqual([]);
  });
});
