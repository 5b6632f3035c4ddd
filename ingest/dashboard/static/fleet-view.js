// The fleet at a glance: each device with when it was last seen and its latest
// values (GET /v1/query/latest), and this node's counters (GET /v1/query/stats).

import { query } from './dashboard-api.js';

/** A device not heard from for this long is shown as stale. */
const STALE_MS = 5 * 60_000;

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className !== undefined) td.className = className;
  return td;
}

/** "12 s ago", "3 min ago", "2 h ago", "4 d ago". */
function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** The devices in the latest values, newest first: id, last seen, values by metric. */
function devicesOf(points) {
  const devices = new Map();
  for (const point of points) {
    const device = devices.get(point.device) ?? { id: point.device, lastSeen: 0, values: [] };
    device.lastSeen = Math.max(device.lastSeen, point.ts);
    device.values.push(point);
    devices.set(point.device, device);
  }
  return [...devices.values()].sort((a, b) => b.lastSeen - a.lastSeen || (a.id < b.id ? -1 : 1));
}

/** Fills the fleet table; `onSelect(deviceId)` runs when a row is clicked. Resolves with the devices. */
export async function refreshFleet(onSelect, selected) {
  const { items } = await query('latest');
  const devices = devicesOf(items);
  const now = Date.now();
  const rows = devices.map((device) => {
    const tr = document.createElement('tr');
    tr.dataset.device = device.id;
    tr.tabIndex = 0;
    if (now - device.lastSeen > STALE_MS) tr.classList.add('stale');
    if (device.id === selected) tr.classList.add('selected');
    const seen = cell(ago(now - device.lastSeen), 'last-seen');
    seen.title = new Date(device.lastSeen).toISOString();
    seen.dataset.ts = String(device.lastSeen);
    const values = device.values.map((p) => `${p.metric} ${Number(p.value.toPrecision(6))}`).join(', ');
    tr.append(cell(device.id, 'device'), seen, cell(values, 'values'));
    tr.addEventListener('click', () => onSelect(device.id));
    tr.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') onSelect(device.id);
    });
    return tr;
  });
  document.querySelector('#fleet-table tbody').replaceChildren(...rows);
  document.getElementById('fleet-count').textContent = `(${devices.length} devices)`;
  return devices;
}

const format = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/**
 * Shows this node's counters. Rates come from two answers of the same node
 * (totals since it started), so `previous` is the last answer seen.
 */
export async function refreshStats(previous) {
  const stats = await query('stats');
  document.getElementById('node-id').textContent = stats.node.id.slice(0, 8);
  document.getElementById('node-started').textContent = new Date(stats.node.startedAt).toLocaleString();
  const rate = document.getElementById('readings-rate');
  if (previous !== undefined && previous.node.id === stats.node.id && stats.at > previous.at) {
    const perSecond = ((stats.readingsWritten - previous.readingsWritten) * 1000) / (stats.at - previous.at);
    rate.textContent = format.format(perSecond);
    rate.title = `over the last ${format.format((stats.at - previous.at) / 1000)} s`;
  } else {
    rate.textContent = 'measuring…';
  }
  const sum = (list) => list.reduce((total, item) => total + item.count, 0);
  document.getElementById('readings-total').textContent = format.format(stats.readingsWritten);
  document.getElementById('accepted-total').textContent = format.format(sum(stats.accepted));
  document.getElementById('rejected-total').textContent = format.format(sum(stats.rejected));
  const rows = stats.rejected.map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.code = r.code;
    tr.append(cell(r.code, 'code'), cell(r.transport), cell(format.format(r.count), 'count'));
    return tr;
  });
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = cell('no message rejected since the node started', 'muted');
    td.colSpan = 3;
    tr.append(td);
    rows.push(tr);
  }
  document.querySelector('#rejected-table tbody').replaceChildren(...rows);
  return stats;
}
