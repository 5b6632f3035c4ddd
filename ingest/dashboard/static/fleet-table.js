// The fleet table: every device with when it was last seen and its latest value of each metric (a column
// per metric), searchable by id, filtered to devices silent for longer than a chosen time, sortable by any
// column and shown a page at a time, so a fleet of thousands stays one screen.

/** A device not heard from for this long gets the "silent" badge. */
const SILENT_MS = 5 * 60_000;

const number = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 6 });

/** "12 s ago", "3 min ago", "2 h ago", "4 d ago". */
function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className !== undefined) td.className = className;
  return td;
}

/** The devices in the latest values: id, last seen, latest value by metric, and the metric names. */
function devicesOf(points) {
  const devices = new Map();
  const metrics = new Set();
  for (const point of points) {
    const device = devices.get(point.device) ?? { id: point.device, lastSeen: 0, values: new Map() };
    device.lastSeen = Math.max(device.lastSeen, point.ts);
    device.values.set(point.metric, point);
    metrics.add(point.metric);
    devices.set(point.device, device);
  }
  return { devices: [...devices.values()], metrics: [...metrics].sort() };
}

/** The value a column sorts by: the id, the last-seen time, or a metric's latest value (missing last). */
function sortKey(device, column) {
  if (column === 'device') return device.id;
  if (column === 'lastSeen') return device.lastSeen;
  return device.values.get(column.slice('metric:'.length))?.value;
}

function compare(a, b, column, direction) {
  const x = sortKey(a, column);
  const y = sortKey(b, column);
  if (x === undefined || y === undefined) return x === y ? 0 : x === undefined ? 1 : -1;
  const order = x < y ? -1 : x > y ? 1 : 0;
  return order * direction || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The table element `table` with its controls: `search` (input), `silentFilter` (select of milliseconds,
 * 0 for every device), `pageSize` (select), `pager` (prev/next buttons and `info`), `count` and `silentCount`
 * (text). `onSelect(deviceId)` runs when a row is clicked or Enter is pressed on it.
 */
export class FleetTable {
  #elements;
  #onSelect;
  #devices = [];
  #metrics = [];
  #now = Date.now();
  #sort = { column: 'lastSeen', direction: -1 };
  #page = 0;
  #selected = '';

  constructor(elements, onSelect) {
    this.#elements = elements;
    this.#onSelect = onSelect;
    const rerender = () => {
      this.#page = 0;
      this.render();
    };
    elements.search.addEventListener('input', rerender);
    elements.silentFilter.addEventListener('change', rerender);
    elements.pageSize.addEventListener('change', rerender);
    elements.previous.addEventListener('click', () => this.#turn(-1));
    elements.next.addEventListener('click', () => this.#turn(1));
    elements.silentCount.addEventListener('click', () => {
      elements.silentFilter.value = String(SILENT_MS);
      this.#sort = { column: 'lastSeen', direction: 1 };
      rerender();
    });
  }

  /** Replaces the devices shown (from the latest values), keeping the search, filter, sort and page. */
  update(points, now) {
    const { devices, metrics } = devicesOf(points);
    this.#devices = devices;
    this.#metrics = metrics;
    this.#now = now;
    this.render();
    return devices;
  }

  /** Marks the row of `id` as the one charted. */
  select(id) {
    this.#selected = id;
    for (const row of this.#elements.table.tBodies[0].rows) row.classList.toggle('selected', row.dataset.device === id);
  }

  #turn(step) {
    this.#page += step;
    this.render();
  }

  /** The devices the search and filter let through, sorted. */
  #shown() {
    const text = this.#elements.search.value.trim().toLowerCase();
    const silentFor = Number(this.#elements.silentFilter.value);
    const { column, direction } = this.#sort;
    return this.#devices
      .filter((d) => (text === '' || d.id.toLowerCase().includes(text)) && this.#now - d.lastSeen >= silentFor)
      .sort((a, b) => compare(a, b, column, direction));
  }

  render() {
    const elements = this.#elements;
    const shown = this.#shown();
    const size = Number(elements.pageSize.value);
    const pages = Math.max(1, Math.ceil(shown.length / size));
    this.#page = Math.min(Math.max(this.#page, 0), pages - 1);
    const first = this.#page * size;
    const rows = shown.slice(first, first + size).map((device) => this.#row(device));
    this.#renderHead();
    elements.table.tBodies[0].replaceChildren(...rows);
    elements.info.textContent =
      shown.length === 0 ? 'no device matches' : `${first + 1}–${first + rows.length} of ${shown.length}`;
    elements.previous.disabled = this.#page === 0;
    elements.next.disabled = this.#page >= pages - 1;
    elements.count.textContent = `(${this.#devices.length} devices)`;
    const silent = this.#devices.filter((d) => this.#now - d.lastSeen >= SILENT_MS).length;
    elements.silentCount.textContent = `${silent} silent > 5 min`;
    elements.silentCount.hidden = silent === 0;
  }

  #renderHead() {
    const columns = [
      ['device', 'device'],
      ['lastSeen', 'last seen'],
      ...this.#metrics.map((metric) => [`metric:${metric}`, metric]),
    ];
    const cells = columns.map(([column, label]) => {
      const th = document.createElement('th');
      th.dataset.column = column;
      th.scope = 'col';
      const sorted = this.#sort.column === column;
      th.setAttribute('aria-sort', sorted ? (this.#sort.direction > 0 ? 'ascending' : 'descending') : 'none');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = `${label}${sorted ? (this.#sort.direction > 0 ? ' ▲' : ' ▼') : ''}`;
      button.addEventListener('click', () => {
        // A new column sorts the way one looks first: ids A→Z, last seen newest first, values smallest first.
        const direction = sorted ? -this.#sort.direction : column === 'lastSeen' ? -1 : 1;
        this.#sort = { column, direction };
        this.#page = 0;
        this.render();
      });
      th.append(button);
      return th;
    });
    this.#elements.table.tHead.rows[0].replaceChildren(...cells);
  }

  #row(device) {
    const tr = document.createElement('tr');
    tr.dataset.device = device.id;
    tr.tabIndex = 0;
    const silent = this.#now - device.lastSeen >= SILENT_MS;
    if (silent) tr.classList.add('stale');
    if (device.id === this.#selected) tr.classList.add('selected');
    const seen = cell(ago(this.#now - device.lastSeen), 'last-seen');
    seen.title = new Date(device.lastSeen).toISOString();
    seen.dataset.ts = String(device.lastSeen);
    if (silent) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'silent';
      seen.append(' ', badge);
    }
    const values = this.#metrics.map((metric) => {
      const point = device.values.get(metric);
      const td = cell(point === undefined ? '–' : number.format(point.value), 'value');
      td.dataset.metric = metric;
      if (point !== undefined) {
        td.dataset.value = String(point.value);
        td.title = `${metric} at ${new Date(point.ts).toISOString()}`;
      }
      return td;
    });
    tr.append(cell(device.id, 'device'), seen, ...values);
    tr.addEventListener('click', () => this.#onSelect(device.id));
    tr.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') this.#onSelect(device.id);
    });
    return tr;
  }
}
