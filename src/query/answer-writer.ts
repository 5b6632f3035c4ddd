import { ByteSink } from './byte-sink.js';
import { type CsvValue, csvField, formatCsv } from './format-csv.js';

/** The media an answer of points can be written in; `compact` is JSON with each series' names written once. */
export type StreamFormat = 'json' | 'csv' | 'ndjson' | 'compact';

/** One item of an answer: a stored value, a window, or a series, with the columns the endpoint lists. */
export type AnswerItem = Readonly<Record<string, CsvValue>>;

const COMMA = 0x2c;
const NEWLINE = 0x0a;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACKET = 0x5b;
const CRLF = Buffer.from('\r\n');
const EMPTY = Buffer.alloc(0);

/**
 * Writes an answer of points, item by item, as UTF-8 bytes, so an answer can be sent while the store still
 * reads it and never needs to be held whole: `open()` once, `items()` for each part as it comes (in the
 * order of the answer: device, metric, ts), `close()` once with the cursor to the next page, if any; `take()`
 * hands over what was written so far.
 *
 * - `json`: today's shape, `{...meta, "items": [{device, metric, ts, value, ...}], "nextCursor"?}`.
 * - `compact`: `{...meta, "columns": ["ts", "value", ...], "series": [{"device", "metric", "points": [[ts,
 *   value, ...], ...]}], "nextCursor"?}`: device and metric once per series, not once per point.
 * - `ndjson`: one JSON item per line (application/x-ndjson); the next page, if any, is only in the Link header.
 * - `csv`: RFC 4180 with a header row, as the buffered CSV answer.
 *
 * Items are written straight into bytes (see {@link ByteSink}), each item's text as `JSON.stringify` or the CSV
 * formatter would write it, without a string or object per item; a string column's bytes are kept while it
 * repeats, as device and metric do within a series.
 *
 * @example
 * ```ts
 * const writer = new AnswerWriter('compact', ['device', 'metric', 'ts', 'value'], { from: 0, to: 10 });
 * writer.open();
 * writer.items([{ device: 'a', metric: 't', ts: 1, value: 2 }]);
 * writer.close(undefined);
 * Buffer.concat(writer.take()).toString();
 * // '{"from":0,"to":10,"columns":["ts","value"],"series":[{"device":"a","metric":"t","points":[[1,2]]}]}'
 * ```
 */
export class AnswerWriter {
  readonly #format: StreamFormat;
  readonly #columns: readonly string[];
  readonly #meta: Readonly<Record<string, unknown>>;
  readonly #sink: ByteSink;
  #first = true;
  /** Compact: whether a series is open, and its device and metric. */
  #series: true | undefined;
  #device: CsvValue | undefined;
  #metric: CsvValue | undefined;
  /** Each string column's last value and its bytes in this format (see #stringBytes). */
  readonly #lastStrings: (string | undefined)[] = [];
  readonly #lastBytes: (Buffer | undefined)[] = [];
  /** Compact: the columns of a point, in order (all but device and metric). */
  readonly #pointColumns: readonly string[];
  /** JSON: each column's `"name":` after the item's first (`,"name":`) and as its first (`{"name":`). */
  readonly #keys: readonly Buffer[];
  readonly #firstKeys: readonly Buffer[];
  /**
   * JSON: whether the columns begin with device and metric, and the bytes of the last item's `{"device":…,"metric":…`,
   * alone and followed by the third column's key.
   */
  readonly #seriesFirst: boolean;
  #head: Buffer | undefined;
  #headKeyed: Buffer | undefined;
  #headDevice: string | undefined;
  #headMetric: string | undefined;

  /** `expectedBytes`: about how long the answer will be, when known (see {@link ByteSink}). */
  constructor(
    format: StreamFormat,
    columns: readonly string[],
    meta: Readonly<Record<string, unknown>>,
    expectedBytes?: number,
  ) {
    this.#sink = new ByteSink(expectedBytes);
    this.#format = format;
    this.#columns = columns;
    this.#keys = columns.map((column) => Buffer.from(`,${JSON.stringify(column)}:`));
    this.#firstKeys = columns.map((column) => Buffer.from(`{${JSON.stringify(column)}:`));
    this.#pointColumns = columns.filter((column) => column !== 'device' && column !== 'metric');
    this.#seriesFirst = columns[0] === 'device' && columns[1] === 'metric';
    this.#meta = meta;
  }

  /** Writes what comes before the first item. */
  open(): void {
    const head = JSON.stringify(this.#meta).slice(0, -1);
    const comma = head === '{' ? '' : ',';
    switch (this.#format) {
      case 'json':
        this.#sink.text(`${head}${comma}"items":[`);
        return;
      case 'compact':
        this.#sink.text(`${head}${comma}"columns":${JSON.stringify(this.#pointColumns)},"series":[`);
        return;
      case 'csv':
        this.#sink.text(formatCsv(this.#columns, []));
        return;
      case 'ndjson':
        return;
    }
  }

  /** Writes the next items of the answer. */
  items(items: readonly AnswerItem[]): void {
    const sink = this.#sink;
    switch (this.#format) {
      case 'json':
        for (const item of items) {
          if (!this.#first) sink.byte(COMMA);
          this.#json(item);
          this.#first = false;
        }
        return;
      case 'ndjson':
        for (const item of items) {
          this.#json(item);
          sink.byte(NEWLINE);
        }
        return;
      case 'csv':
        for (const item of items) this.#csv(item);
        return;
      case 'compact':
        for (const item of items) this.#compact(item);
        return;
    }
  }

  /** Writes what comes after the last item. */
  close(nextCursor: string | undefined): void {
    const cursor = nextCursor === undefined ? '' : `,"nextCursor":${JSON.stringify(nextCursor)}`;
    switch (this.#format) {
      case 'json':
        this.#sink.text(`]${cursor}}`);
        return;
      case 'compact':
        this.#sink.text(`${this.#series === undefined ? '' : ']}'}]${cursor}}`);
        return;
      case 'csv':
      case 'ndjson':
        return;
    }
  }

  /** The bytes written since the last take, in order. */
  take(): Buffer[] {
    return this.#sink.take();
  }

  /**
   * The item as a JSON object of the columns, in their order: what `JSON.stringify` writes for an object of those
   * keys (a column the item lacks is left out).
   */
  #json(item: AnswerItem): void {
    const sink = this.#sink;
    let empty = true;
    let start = 0;
    if (this.#seriesFirst) {
      // An answer comes series by series: one copy of `{"device":…,"metric":…` (and the next column's key) while they
      // repeat.
      const { device, metric } = item;
      if (typeof device === 'string' && typeof metric === 'string') {
        if (this.#head === undefined || device !== this.#headDevice || metric !== this.#headMetric) {
          const head = `{"device":${JSON.stringify(device)},"metric":${JSON.stringify(metric)}`;
          this.#head = Buffer.from(head, 'utf8');
          this.#headKeyed = Buffer.concat([this.#head, this.#keys[2] ?? EMPTY]);
          this.#headDevice = device;
          this.#headMetric = metric;
        }
        empty = false;
        const third = this.#columns[2];
        const value = third === undefined ? undefined : item[third];
        if (value === undefined) {
          sink.bytes(this.#head);
          start = 2;
        } else {
          sink.bytes(this.#headKeyed as Buffer);
          this.#jsonValue(2, value);
          start = 3;
        }
      }
    }
    for (let index = start; index < this.#columns.length; index++) {
      const value = item[this.#columns[index] as string];
      if (value === undefined) continue;
      sink.bytes((empty ? this.#firstKeys[index] : this.#keys[index]) as Buffer);
      empty = false;
      this.#jsonValue(index, value);
    }
    if (empty) sink.ascii('{}');
    else sink.byte(CLOSE_BRACE);
  }

  /** A column's value as JSON. */
  #jsonValue(index: number, value: CsvValue): void {
    if (typeof value === 'number') jsonNumber(this.#sink, value);
    else this.#sink.bytes(this.#stringBytes(index, value));
  }

  /** A compact item: a series header when device or metric changes, then `[ts, value, ...]`. */
  #compact(item: AnswerItem): void {
    const sink = this.#sink;
    const { device, metric } = item;
    if (this.#series === undefined || device !== this.#device || metric !== this.#metric) {
      if (this.#series !== undefined) sink.ascii(']},');
      sink.text(`{"device":${JSON.stringify(device ?? '')},"metric":${JSON.stringify(metric ?? '')},"points":[`);
      this.#series = true;
      this.#device = device;
      this.#metric = metric;
    } else {
      sink.byte(COMMA);
    }
    sink.byte(OPEN_BRACKET);
    for (let index = 0; index < this.#pointColumns.length; index++) {
      if (index > 0) sink.byte(COMMA);
      const value = item[this.#pointColumns[index] as string];
      if (typeof value === 'number') jsonNumber(sink, value);
      else sink.text(JSON.stringify(value) ?? 'null');
    }
    sink.byte(CLOSE_BRACKET);
    this.#first = false;
  }

  /** A CSV record of the columns, as the CSV formatter writes it (a column the item lacks is an empty field). */
  #csv(item: AnswerItem): void {
    const sink = this.#sink;
    for (let index = 0; index < this.#columns.length; index++) {
      if (index > 0) sink.byte(COMMA);
      const value = item[this.#columns[index] as string] ?? '';
      if (typeof value === 'number') sink.number(value);
      else sink.bytes(this.#stringBytes(index, value));
    }
    sink.bytes(CRLF);
  }

  /** A string column's bytes in this format, kept while the column repeats the same value from item to item. */
  #stringBytes(index: number, value: string): Buffer {
    if (this.#lastStrings[index] !== value) {
      this.#lastStrings[index] = value;
      this.#lastBytes[index] = Buffer.from(this.#format === 'csv' ? csvField(value) : JSON.stringify(value), 'utf8');
    }
    return this.#lastBytes[index] as Buffer;
  }
}

/** Writes what `JSON.stringify` writes for a number: its text, `null` when it is not finite. */
function jsonNumber(sink: ByteSink, value: number): void {
  if (Number.isFinite(value)) sink.number(value);
  else sink.ascii('null');
}
