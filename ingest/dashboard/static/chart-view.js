// A device's metrics over a range, one uPlot chart per metric: raw readings
// for short ranges, windowed aggregates (about MAX_POINTS of them) for long ones.

import uPlot from 'uplot';
import { queryAll } from './dashboard-api.js';

/** Ranges up to this long are drawn from raw readings; longer ones from windows. */
const RAW_RANGE_MS = 3_600_000;
/** About how many windows a long range is cut into. */
const TARGET_WINDOWS = 720;
/** Most points read for one chart request, over all metrics. */
const MAX_ITEMS = 200_000;
const WINDOW_STEPS = [
  1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000,
  86_400_000,
];
const COLOURS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#be185d', '#4d7c0f'];

/** The window length for a range: the smallest step giving at most about TARGET_WINDOWS windows. */
function windowFor(rangeMs) {
  return WINDOW_STEPS.find((step) => rangeMs / step <= TARGET_WINDOWS) ?? WINDOW_STEPS[WINDOW_STEPS.length - 1];
}

function durationText(ms) {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000} d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}

/** The points of a device over [from, to), and how they were read. */
export async function loadDeviceSeries(device, from, to, aggregate) {
  const span = to - from;
  if (span <= RAW_RANGE_MS) {
    const { items, truncated } = await queryAll('readings', { device, from, to, limit: 10_000 }, MAX_ITEMS);
    return { items, truncated, source: 'readings', description: 'raw readings' };
  }
  const windowMs = windowFor(span);
  const { items, truncated } = await queryAll(
    'windows',
    { device, from, to, windowMs, aggregate, limit: 10_000 },
    MAX_ITEMS,
  );
  return {
    items,
    truncated,
    source: `windows:${windowMs}:${aggregate}`,
    description: `${aggregate} per ${durationText(windowMs)} window`,
  };
}

/** Items (ordered by metric, ts) split into uPlot data per metric: [[ts...], [value...]]. */
function byMetric(items) {
  const metrics = new Map();
  for (const item of items) {
    const data = metrics.get(item.metric) ?? [[], []];
    data[0].push(item.ts);
    data[1].push(item.value);
    metrics.set(item.metric, data);
  }
  return metrics;
}

const charts = [];

function clearCharts(container) {
  for (const chart of charts.splice(0)) chart.destroy();
  container.replaceChildren();
}

const resize = new ResizeObserver(() => {
  for (const chart of charts) chart.setSize({ width: chart.root.parentElement.clientWidth, height: 220 });
});

/**
 * Draws one chart per metric into `container`. Each chart element carries
 * data-metric, data-source and data-points, and the uPlot instance as `.chart`
 * (x values are ms since the epoch, as the API answers them).
 */
export function drawCharts(container, loaded, from, to) {
  clearCharts(container);
  resize.disconnect();
  const metrics = byMetric(loaded.items);
  if (metrics.size === 0) {
    const empty = document.createElement('p');
    empty.className = 'muted';
    empty.textContent = 'No readings in this range.';
    container.append(empty);
    return;
  }
  let index = 0;
  for (const [metric, data] of metrics) {
    const holder = document.createElement('figure');
    holder.className = 'chart';
    holder.dataset.metric = metric;
    holder.dataset.source = loaded.source;
    holder.dataset.points = String(data[0].length);
    const caption = document.createElement('figcaption');
    caption.textContent = `${metric} (${data[0].length} points, ${loaded.description})`;
    holder.append(caption);
    container.append(holder);
    const colour = COLOURS[index++ % COLOURS.length];
    const chart = new uPlot(
      {
        width: holder.clientWidth || 800,
        height: 220,
        ms: 1,
        scales: { x: { time: true, min: from, max: to } },
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
        series: [
          {},
          {
            label: metric,
            stroke: colour,
            width: 1.5,
            points: { show: data[0].length <= 120 },
            spanGaps: false,
          },
        ],
      },
      data,
      holder,
    );
    holder.chart = chart;
    charts.push(chart);
    resize.observe(holder);
  }
}
