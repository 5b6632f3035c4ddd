// The dashboard page: asks for an operator token, then shows the fleet, this
// node's counters and a device's metrics. Everything comes from the query API.

import { drawCharts, loadDeviceSeries } from './chart-view.js';
import { describeToken, forgetToken, QueryError, storedToken, storeToken } from './dashboard-api.js';
import { FleetTable } from './fleet-table.js';
import { refreshFleet, refreshStats } from './fleet-view.js';

const FLEET_EVERY_MS = 15_000;
const STATS_EVERY_MS = 5_000;
/** While "live", charts of a preset range are read again this often: raw readings, then windows. */
const LIVE_RAW_EVERY_MS = 5_000;
const LIVE_WINDOWS_EVERY_MS = 30_000;
const RAW_RANGE_MS = 3_600_000;

const $ = (id) => document.getElementById(id);
const fleet = new FleetTable(
  {
    table: $('fleet-table'),
    search: $('fleet-search'),
    silentFilter: $('fleet-silent'),
    pageSize: $('fleet-page-size'),
    previous: $('fleet-previous'),
    next: $('fleet-next'),
    info: $('fleet-page'),
    count: $('fleet-count'),
    silentCount: $('silent-count'),
  },
  (id) => selectDevice(id),
);
let lastStats;
let liveTimer;
/** The latest chart request: an older answer arriving late must not replace a newer one. */
let chartTicket = 0;
let timers = [];

function notice(kind, text) {
  const element = $('notice');
  element.dataset.kind = kind;
  element.textContent = text;
  element.hidden = text === '';
}

/** What to tell the operator about a failed query. */
function explain(error) {
  if (!(error instanceof QueryError)) return `Unexpected failure: ${error.message}`;
  if (error.code === 'NO_TOKEN') {
    return 'Paste an operator token above to see the fleet (telemetry keys operator-token --issuer <key> --scope read).';
  }
  if (error.status === 401) return `The node refused the token (${error.code}: ${error.message}). Paste a valid one.`;
  return `${error.code}: ${error.message}`;
}

function showTokenInfo() {
  const token = storedToken();
  const info = token === '' ? undefined : describeToken(token);
  $('token-info').textContent =
    token === ''
      ? 'no token'
      : info === undefined
        ? 'token set'
        : `${info.subject ?? 'token'} · ${info.scope ?? 'no scope'}${
            info.expires === undefined ? '' : ` · expires ${info.expires.toLocaleString()}`
          }`;
}

function fillDeviceSelect(devices) {
  const select = $('device-select');
  const current = select.value;
  const options = devices
    .map((d) => d.id)
    .sort()
    .map((id) => new Option(id, id, false, id === current));
  select.replaceChildren(...options);
  return current === '' && options.length > 0;
}

async function updateFleet() {
  try {
    const devices = await refreshFleet(fleet);
    notice('info', devices.length === 0 ? 'No device has sent readings yet.' : '');
    if (fillDeviceSelect(devices)) await updateCharts();
  } catch (error) {
    notice('error', explain(error));
  }
}

async function updateStats() {
  const panel = $('node-panel');
  try {
    lastStats = await refreshStats(lastStats);
    panel.dataset.state = 'ok';
  } catch (error) {
    panel.dataset.state = 'error';
    $('readings-rate').textContent = '–';
    if (error instanceof QueryError && error.status === 403) {
      $('readings-rate').title = 'node counters cover every device: they need a token with the read scope';
    }
  }
}

/** The range the controls name, in ms since the epoch. */
function chosenRange() {
  const choice = $('range-select').value;
  if (choice === 'custom') {
    const from = new Date($('from-input').value).getTime();
    const to = new Date($('to-input').value).getTime();
    if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) return undefined;
    return { from, to };
  }
  const to = Date.now();
  return { from: to - Number(choice), to };
}

async function updateCharts() {
  const device = $('device-select').value;
  const container = $('charts');
  if (device === '') return;
  const range = chosenRange();
  if (range === undefined) {
    $('chart-info').textContent = 'choose a "from" before "to"';
    return;
  }
  $('device-title').textContent = `Device ${device}`;
  fleet.select(device);
  const refreshing = container.dataset.state === 'ready' && container.dataset.device === device;
  if (!refreshing) {
    $('chart-info').textContent = 'loading…';
    container.dataset.state = 'loading';
  }
  const ticket = ++chartTicket;
  scheduleLive(range);
  try {
    const loaded = await loadDeviceSeries(device, range.from, range.to, $('aggregate-select').value);
    if (ticket !== chartTicket) return;
    drawCharts(container, loaded, range.from, range.to, { zoomToData: $('zoom-to-data').checked });
    const live = liveTimer === undefined ? '' : ` · live, updated ${new Date().toLocaleTimeString()}`;
    $('chart-info').textContent =
      `${loaded.items.length} points${loaded.truncated ? ' (cut short: choose a shorter range)' : ''}${live}`;
    container.dataset.device = device;
    container.dataset.draws = String(Number(container.dataset.draws ?? 0) + 1);
    container.dataset.state = 'ready';
  } catch (error) {
    if (ticket !== chartTicket) return;
    container.dataset.state = 'error';
    $('chart-info').textContent = explain(error);
  }
}

/** While "live" and the range is a preset (it ends now), reads the charts again after a while. */
function scheduleLive(range) {
  clearTimeout(liveTimer);
  liveTimer = undefined;
  if (!$('live').checked || $('range-select').value === 'custom' || storedToken() === '') return;
  const every = range.to - range.from <= RAW_RANGE_MS ? LIVE_RAW_EVERY_MS : LIVE_WINDOWS_EVERY_MS;
  liveTimer = setTimeout(updateCharts, every);
}

async function selectDevice(id) {
  $('device-select').value = id;
  await updateCharts();
}

function stop() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
  clearTimeout(liveTimer);
  liveTimer = undefined;
}

/** Starts (or restarts) everything that needs the token. */
function start() {
  stop();
  showTokenInfo();
  if (storedToken() === '') {
    notice('warn', explain(new QueryError(0, 'NO_TOKEN', '')));
    return;
  }
  notice('info', 'Loading…');
  lastStats = undefined;
  updateFleet();
  updateStats();
  timers = [setInterval(updateFleet, FLEET_EVERY_MS), setInterval(updateStats, STATS_EVERY_MS)];
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = $('token').value.trim();
  $('token').value = '';
  if (token !== '') storeToken(token);
  start();
});
$('forget-token').addEventListener('click', () => {
  forgetToken();
  stop();
  $('fleet-table').tBodies[0].replaceChildren();
  $('charts').replaceChildren();
  start();
});
$('chart-form').addEventListener('submit', (event) => {
  event.preventDefault();
  updateCharts();
});
$('device-select').addEventListener('change', updateCharts);
$('range-select').addEventListener('change', () => {
  document.body.classList.toggle('custom-range', $('range-select').value === 'custom');
  if ($('range-select').value !== 'custom') updateCharts();
});
$('aggregate-select').addEventListener('change', updateCharts);
$('zoom-to-data').addEventListener('change', updateCharts);
$('live').addEventListener('change', updateCharts);
start();
