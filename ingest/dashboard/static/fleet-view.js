// The fleet at a glance: the devices' latest values (GET /v1/query/latest) into the fleet table, and this
// node's counters (GET /v1/query/stats).

import { query } from './dashboard-api.js';

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className !== undefined) td.className = className;
  return td;
}

/** Reads the latest values into `table` (a FleetTable). Resolves with the devices. */
export async function refreshFleet(table) {
  const { items } = await query('latest');
  return table.update(items, Date.now());
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
