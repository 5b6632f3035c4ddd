// A device's metrics over a range, one uPlot chart per metric: raw readings
// for short ranges, windowed aggregates (about MAX_POINTS of them) for long ones.
// A line is broken where readings stopped (gaps are drawn as gaps), and the
// time axis fits the readings present unless told to show the whole range.

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
/** Raw readings further apart than this many typical steps (their median interval) are a gap. */
const GAP_STEPS = 5;
/** Windows further apart than this many window lengths are a gap (at least one empty window between). */
const GAP_WINDOWS = 1.5;
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
    return { items, truncated, source: 'readings', description: 'raw readings', stepMs: undefined };
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
    stepMs: windowMs,
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

/** The median of the intervals between successive times, or undefined with fewer than two. */
function medianStep(ts) {
  const steps = [];
  for (let i = 1; i < ts.length; i++) steps.push(ts[i] - ts[i - 1]);
  if (steps.length === 0) return undefined;
  steps.sort((a, b) => a - b);
  return steps[Math.floor(steps.length / 2)];
}

/**
 * Where a series has no data: [from, to] (ms) for every two successive points further apart than
 * `threshold`. The line is not drawn across them.
 */
function gapsOf(ts, threshold) {
  const gaps = [];
  if (threshold === undefined) return gaps;
  for (let i = 1; i < ts.length; i++) if (ts[i] - ts[i - 1] > threshold) gaps.push([ts[i - 1], ts[i]]);
  return gaps;
}

/** uPlot's gaps refiner: the null gaps it found, plus ours, in canvas pixels. */
function clipGaps(gaps) {
  return (u, _seriesIndex, _idx0, _idx1, nullGaps) => {
    const ours = gaps.map(([from, to]) => [
      Math.round(u.valToPos(from, 'x', true)) + 1,
      Math.round(u.valToPos(to, 'x', true)) - 1,
    ]);
    return [...nullGaps, ...ours].sort((a, b) => a[0] - b[0]);
  };
}

/**
 * The x range to draw: [from, to] as chosen, or, zoomed to the data, the span of the readings present
 * with a small margin, never beyond what was chosen.
 */
function xRange(allTs, from, to, zoomToData, stepMs) {
  if (!zoomToData || allTs.length === 0) return [from, to];
  const first = Math.min(...allTs);
  const last = Math.max(...allTs);
  const margin = Math.max((last - first) * 0.02, stepMs ?? 1000);
  return [Math.max(from, first - margin), Math.min(to, last + margin)];
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
 * Draws one chart per metric into `container`, every chart over the same x range. Each chart element
 * carries data-metric, data-source, data-points and data-gaps (JSON [[from, to], ...] in ms), and the
 * uPlot instance as `.chart` (x values are ms since the epoch, as the API answers them).
 */
export function drawCharts(container, loaded, from, to, { zoomToData }) {
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
  const [xMin, xMax] = xRange(
    loaded.items.map((item) => item.ts),
    from,
    to,
    zoomToData,
    loaded.stepMs,
  );
  let index = 0;
  for (const [metric, data] of metrics) {
    const typical = loaded.stepMs === undefined ? medianStep(data[0]) : undefined;
    const threshold =
      loaded.stepMs === undefined
        ? typical === undefined
          ? undefined
          : typical * GAP_STEPS
        : loaded.stepMs * GAP_WINDOWS;
    const gaps = gapsOf(data[0], threshold);
    const holder = document.createElement('figure');
    holder.className = 'chart';
    holder.dataset.metric = metric;
    holder.dataset.source = loaded.source;
    holder.dataset.points = String(data[0].length);
    holder.dataset.gaps = JSON.stringify(gaps);
    const caption = document.createElement('figcaption');
    const gapText = gaps.length === 0 ? '' : `, ${gaps.length} gap${gaps.length === 1 ? '' : 's'}`;
    caption.textContent = `${metric} (${data[0].length} points, ${loaded.description}${gapText})`;
    holder.append(caption);
    container.append(holder);
    const colour = COLOURS[index++ % COLOURS.length];
    const chart = new uPlot(
      {
        width: holder.clientWidth || 800,
        height: 220,
        ms: 1,
        scales: { x: { time: true, min: xMin, max: xMax } },
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
            gaps: clipGaps(gaps),
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
