import { type CsvValue, formatCsv, formatCsvRecords } from './format-csv.js';

/** The media an answer of points can be written in; `compact` is JSON with each series' names written once. */
export type StreamFormat = 'json' | 'csv' | 'ndjson' | 'compact';

/** One item of an answer: a stored value, a window, or a series, with the columns the endpoint lists. */
export type AnswerItem = Readonly<Record<string, CsvValue>>;

/**
 * Writes an answer of points, item by item, as text chunks, so an answer can be sent while the store still
 * reads it and never needs to be held whole: `open()` once, `items()` for each part as it comes (in the
 * order of the answer: device, metric, ts), `close()` once with the cursor to the next page, if any.
 *
 * - `json`: today's shape, `{...meta, "items": [{device, metric, ts, value, ...}], "nextCursor"?}`.
 * - `compact`: `{...meta, "columns": ["ts", "value", ...], "series": [{"device", "metric", "points": [[ts,
 *   value, ...], ...]}], "nextCursor"?}`: device and metric once per series, not once per point.
 * - `ndjson`: one JSON item per line (application/x-ndjson); the next page, if any, is only in the Link header.
 * - `csv`: RFC 4180 with a header row, as the buffered CSV answer.
 *
 * @example
 * ```ts
 * const writer = new AnswerWriter('compact', ['device', 'metric', 'ts', 'value'], { from: 0, to: 10 });
 * writer.open() + writer.items([{ device: 'a', metric: 't', ts: 1, value: 2 }]) + writer.close(undefined);
 * // '{"from":0,"to":10,"columns":["ts","value"],"series":[{"device":"a","metric":"t","points":[[1,2]]}]}'
 * ```
 */
export class AnswerWriter {
  readonly #format: StreamFormat;
  readonly #columns: readonly string[];
  readonly #meta: Readonly<Record<string, unknown>>;
  #first = true;
  /** Compact: whether a series is open, and its device and metric. */
  #series: true | undefined;
  #device: CsvValue | undefined;
  #metric: CsvValue | undefined;
  /** JSON: each string column's last value and its text (see #valueText). */
  readonly #lastStrings: (string | undefined)[] = [];
  readonly #lastTexts: (string | undefined)[] = [];
  /** Compact: the columns of a point, in order (all but device and metric). */
  readonly #pointColumns: readonly string[];
  /** Each column's `"name":`, written once. */
  readonly #keys: readonly string[];

  constructor(format: StreamFormat, columns: readonly string[], meta: Readonly<Record<string, unknown>>) {
    this.#format = format;
    this.#columns = columns;
    this.#keys = columns.map((column) => `${JSON.stringify(column)}:`);
    this.#pointColumns = columns.filter((column) => column !== 'device' && column !== 'metric');
    this.#meta = meta;
  }

  /** What comes before the first item. */
  open(): string {
    const head = JSON.stringify(this.#meta).slice(0, -1);
    const comma = head === '{' ? '' : ',';
    switch (this.#format) {
      case 'json':
        return `${head}${comma}"items":[`;
      case 'compact':
        return `${head}${comma}"columns":${JSON.stringify(this.#pointColumns)},"series":[`;
      case 'csv':
        return formatCsv(this.#columns, []);
      case 'ndjson':
        return '';
    }
  }

  /** The text of the next items of the answer. */
  items(items: readonly AnswerItem[]): string {
    switch (this.#format) {
      case 'json': {
        let text = '';
        for (const item of items) {
          text += this.#first ? this.#json(item) : `,${this.#json(item)}`;
          this.#first = false;
        }
        return text;
      }
      case 'ndjson': {
        let text = '';
        for (const item of items) text += `${this.#json(item)}\n`;
        return text;
      }
      case 'csv':
        return formatCsvRecords(items.map((item) => this.#columns.map((column) => item[column] ?? '')));
      case 'compact':
        return this.#compact(items);
    }
  }

  /** Compact items: a series header when device or metric changes, then `[ts, value, ...]` per point. */
  #compact(items: readonly AnswerItem[]): string {
    let text = '';
    for (const item of items) {
      const { device, metric } = item;
      if (this.#series === undefined || device !== this.#device || metric !== this.#metric) {
        const header = `{"device":${JSON.stringify(device ?? '')},"metric":${JSON.stringify(metric ?? '')},"points":[`;
        text += `${this.#series === undefined ? '' : ']},'}${header}`;
        this.#series = true;
        this.#device = device;
        this.#metric = metric;
      } else {
        text += ',';
      }
      text += '[';
      for (let index = 0; index < this.#pointColumns.length; index++) {
        text += `${index === 0 ? '' : ','}${jsonValue(item[this.#pointColumns[index] as string])}`;
      }
      text += ']';
      this.#first = false;
    }
    return text;
  }

  /** What comes after the last item. */
  close(nextCursor: string | undefined): string {
    const cursor = nextCursor === undefined ? '' : `,"nextCursor":${JSON.stringify(nextCursor)}`;
    switch (this.#format) {
      case 'json':
        return `]${cursor}}`;
      case 'compact':
        return `${this.#series === undefined ? '' : ']}'}]${cursor}}`;
      case 'csv':
      case 'ndjson':
        return '';
    }
  }

  /**
   * The item as a JSON object of the columns, in their order: what `JSON.stringify` writes for an object of those
   * keys (a column the item lacks is left out), built as text so a long answer makes no object per item.
   */
  #json(item: AnswerItem): string {
    let text = '';
    for (let index = 0; index < this.#columns.length; index++) {
      const value = item[this.#columns[index] as string];
      if (value === undefined) continue;
      text += `${text === '' ? '{' : ','}${this.#keys[index]}${this.#valueText(index, value)}`;
    }
    return text === '' ? '{}' : `${text}}`;
  }

  /**
   * A value's JSON text; a string column remembers its last value's text, since an answer comes series by series
   * and its device and metric repeat from one item to the next.
   */
  #valueText(index: number, value: CsvValue): string {
    if (typeof value !== 'string') return jsonValue(value);
    if (this.#lastStrings[index] !== value) {
      this.#lastStrings[index] = value;
      this.#lastTexts[index] = jsonValue(value);
    }
    return this.#lastTexts[index] as string;
  }
}

/** What `JSON.stringify` writes for a value of an item: a finite number as JavaScript writes it, without the call. */
function jsonValue(value: CsvValue | undefined): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  return JSON.stringify(value) ?? 'null';
}
