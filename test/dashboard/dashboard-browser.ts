import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
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

/** A headless Debian Chromium with a throwaway profile; `close()` removes the profile. */
export interface DashboardBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Launches the system Chromium. The page runs in UTC, so a `datetime-local`
 * value the test types means the same instant to the test and to the page.
 */
export async function launchDashboardBrowser(): Promise<DashboardBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install the Debian package "chromium" (scripts/install-test-deps.sh)`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'dashboard-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 1000 },
      timezoneId: 'UTC',
    });
    return {
      context,
      async close() {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
}

/** A chart as the page drew it: read back from its uPlot instance. */
export interface PlottedChart {
  readonly metric: string;
  readonly source: string;
  /** The x scale the chart was drawn over, ms since the epoch. */
  readonly from: number;
  readonly to: number;
  readonly ts: number[];
  readonly values: number[];
}

/** What the page plotted, chart by chart. */
export async function plotted(page: Page): Promise<PlottedChart[]> {
  // The tests compile without the DOM library: the figure is described by what is read from it.
  type ChartFigure = {
    getAttribute(name: string): string | null;
    chart: {
      data: [ArrayLike<number>, ArrayLike<number | null>];
      scales: { x: { min?: number; max?: number } };
    };
  };
  return page.$$eval('#charts figure.chart', (figures) =>
    figures.map((element): PlottedChart => {
      const figure = element as unknown as ChartFigure;
      return {
        metric: figure.getAttribute('data-metric') ?? '',
        source: figure.getAttribute('data-source') ?? '',
        from: figure.chart.scales.x.min ?? Number.NaN,
        to: figure.chart.scales.x.max ?? Number.NaN,
        ts: Array.from(figure.chart.data[0]),
        values: Array.from(figure.chart.data[1], (v: number | null) => v ?? Number.NaN),
      };
    }),
  );
}

/** A `datetime-local` value (seconds precision) for an instant, in the page's UTC. */
export function localInput(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}
