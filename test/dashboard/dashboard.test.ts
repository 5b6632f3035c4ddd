import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FleetManifest,
  parseFaultPlan,
  provisionFleet,
  type RunReport,
  readFleet,
  startRun,
} from '../../simulator/index.js';
import type { StoredPoint } from '../../src/store/telemetry-store.js';
import { auditStore, type FleetNode, startFleetNode, testRunOptions } from '../simulator/fleet-node.js';
import { type DashboardBrowser, launchDashboardBrowser, localInput, plotted } from './dashboard-browser.js';

const SCREENSHOT = 'test-results/dashboard.png';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The one fault the run injects, and the code the node must refuse it with. */
const FAULT = 'malformed=1';
const FAULT_CODE = 'ERR_PAYLOAD_MALFORMED';

/** Every point the store holds for a device since `since`, in the store's order (metric, ts). */
async function storedPoints(node: FleetNode, device: string, since: number): Promise<StoredPoint[]> {
  const points: StoredPoint[] = [];
  let cursor: string | undefined;
  do {
    const page = await node.store.queryReadings({
      devices: [device],
      range: { start: since, end: Date.now() + MINUTE },
      limit: 5000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    points.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return points;
}

/** Checks the charts on the page plot exactly `points`, one chart per metric, drawn from `source`. */
async function expectCharts(page: Page, points: readonly StoredPoint[], source: string): Promise<void> {
  const charts = await plotted(page);
  expect(charts.map((c) => c.metric).sort()).toEqual([...new Set(points.map((p) => p.metric))].sort());
  for (const chart of charts) {
    const expected = points.filter((p) => p.metric === chart.metric);
    expect(chart.source).toBe(source);
    expect(chart.ts).toEqual(expected.map((p) => p.ts));
    expect(chart.values).toEqual(expected.map((p) => p.value));
  }
}

describe('the dashboard page in a real browser, over a node the simulator filled', () => {
  let dir: string;
  let fleet: FleetManifest;
  let fleetNode: FleetNode | undefined;
  let browser: DashboardBrowser | undefined;
  let report: RunReport;
  let runStart: number;
  /** What the store holds for each simulated device after the run. */
  const stored = new Map<string, StoredPoint[]>();

  beforeAll(async () => {
    browser = await launchDashboardBrowser();
    dir = await mkdtemp(join(tmpdir(), 'dashboard-fleet-'));
    await provisionFleet({
      dir,
      devices: 4,
      alg: 'mixed',
      kinds: ['thermo', 'meter', 'gps'],
      keySource: 'registry',
      seed: 'dashboard',
      credentialTtlSeconds: 86_400,
      now: Date.now(),
    });
    fleet = await readFleet(dir);
    // The node runs on the real clock (as the browser does), so "last hour" means the same to both.
    fleetNode = await startFleetNode(dir, fleet);
    runStart = Date.now();
    const options = await testRunOptions(dir, {
      url: fleetNode.httpUrl,
      rate: 4,
      readingsPerMessage: 3,
      durationMs: 3_000,
      faults: parseFaultPlan(FAULT),
    });
    report = await startRun(options).done;
    expect(report.problems).toEqual([]);
    expect(report.totals.readingsAcknowledged).toBe(report.totals.readingsSampled);
    expect(report.faults?.malformed?.rejectedAsExpected).toBe(1);
    expect((await auditStore(fleetNode.store, report)).problems).toEqual([]);
    for (const device of fleet.devices)
      stored.set(device.id, await storedPoints(fleetNode, device.id, runStart - MINUTE));
  });

  afterAll(async () => {
    await browser?.close();
    await fleetNode?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('asks for a token, lists the simulated fleet and plots the stored readings of each device', async () => {
    if (browser === undefined || fleetNode === undefined) throw new Error('not set up');
    const { httpUrl: url, operatorToken: token } = fleetNode;
    const page = await browser.context.newPage();
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

    await page.fill('#token', token);
    await page.click('#token-form button[type="submit"]');

    // The fleet: exactly the simulated devices, each last seen at its newest stored reading.
    await page.waitForSelector('#fleet-table tbody tr');
    const fleetRows = await page.$$eval('#fleet-table tbody tr', (rows) =>
      rows.map((row) => ({
        device: row.getAttribute('data-device') ?? '',
        lastSeen: Number(row.querySelector('.last-seen')?.getAttribute('data-ts')),
      })),
    );
    expect(fleetRows.sort((a, b) => a.device.localeCompare(b.device))).toEqual(
      fleet.devices
        .map(({ id }) => ({ device: id, lastSeen: Math.max(...(stored.get(id) ?? []).map((p) => p.ts)) }))
        .sort((a, b) => a.device.localeCompare(b.device)),
    );
    expect(fleetRows).toHaveLength(4);

    // This node's counters: the simulator's messages and readings, and its malformed message under its code.
    const readingsStored = [...stored.values()].reduce((n, points) => n + new Set(points.map((p) => p.ts)).size, 0);
    expect(readingsStored).toBe(report.totals.readingsAcknowledged);
    await page.waitForSelector(`#rejected-table tbody tr[data-code="${FAULT_CODE}"]`);
    const figure = async (id: string) => Number((await page.textContent(`#${id}`))?.replace(/\D/g, ''));
    expect(await figure('accepted-total')).toBe(report.totals.messagesAcknowledged);
    expect(await figure('rejected-total')).toBe(1);
    expect(await figure('readings-total')).toBe(readingsStored);

    // Each device's charts over the last hour: its raw readings, exactly as stored.
    for (const { id } of fleet.devices) {
      await page.click(`#fleet-table tbody tr[data-device="${id}"]`);
      await page.waitForSelector(`#charts[data-state="ready"][data-device="${id}"] figure.chart`);
      await expectCharts(page, stored.get(id) ?? [], 'readings');
    }

    // A thermometer over just the seconds of the run, so the screenshot shows its curves.
    const thermo = fleet.devices.find((d) => d.kind === 'thermo')?.id ?? '';
    const points = stored.get(thermo) ?? [];
    const from = Math.floor(Math.min(...points.map((p) => p.ts)) / 1000) * 1000 - 1000;
    const to = Math.ceil(Math.max(...points.map((p) => p.ts)) / 1000) * 1000 + 1000;
    await page.selectOption('#device-select', thermo);
    await page.waitForSelector(`#charts[data-state="ready"][data-device="${thermo}"] figure.chart`);
    // The whole range chosen, not fitted to the readings (dashboard-fleet.test.ts covers fitting).
    await page.uncheck('#zoom-to-data');
    await page.selectOption('#range-select', 'custom');
    await page.fill('#from-input', localInput(from));
    await page.fill('#to-input', localInput(to));
    await page.click('#chart-form button[type="submit"]');
    await page.waitForFunction((start) => {
      // Compiled without the DOM library: the document is described by what is read from it.
      type Figure = { chart?: { scales: { x: { min?: number } } } };
      const doc = (globalThis as unknown as { document: { querySelector(s: string): Figure | null } }).document;
      return doc.querySelector('#charts[data-state="ready"] figure.chart')?.chart?.scales.x.min === start;
    }, from);
    const zoomed = await plotted(page);
    expect(zoomed.every((c) => c.from === from && c.to === to)).toBe(true);
    await expectCharts(page, points, 'readings');
    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // A long range reads windows: the same ones the store computes.
    await page.selectOption('#range-select', String(24 * HOUR));
    await page.waitForSelector('#charts[data-state="ready"] figure.chart[data-source^="windows"]');
    const windowed = await plotted(page);
    expect(windowed.length).toBeGreaterThan(0);
    for (const chart of windowed) {
      const [, windowMs, aggregate] = chart.source.split(':');
      expect(aggregate).toBe('mean');
      const windows = await fleetNode.store.queryWindows({
        devices: [thermo],
        metrics: [chart.metric],
        range: { start: Date.now() - 24 * HOUR - MINUTE, end: Date.now() + MINUTE },
        windowMs: Number(windowMs),
        aggregate: 'mean',
        limit: 10_000,
      });
      expect(windows.items.length).toBeGreaterThan(0);
      expect(chart.ts).toEqual(windows.items.map((p) => p.ts));
      expect(chart.values).toEqual(windows.items.map((p) => p.value));
    }

    // The token went only into Authorization headers, and the page ran without errors (CSP included).
    expect(requested.filter((u) => u.includes(token))).toEqual([]);
    expect(problems).toEqual([]);
  });
});
