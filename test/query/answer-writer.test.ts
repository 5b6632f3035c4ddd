import { describe, expect, it } from 'vitest';
import { AnswerWriter, type StreamFormat } from '../../src/query/answer-writer.js';
import { formatCsv } from '../../src/query/format-csv.js';

const COLUMNS = ['device', 'metric', 'ts', 'value'];
const ITEMS = [
  { device: 'a', metric: 't', ts: 1, value: 1.5 },
  { device: 'a', metric: 't', ts: 2, value: 2 },
  { device: 'b,c', metric: 't', ts: 1, value: -1 },
];

/** Writes the items in parts of the given sizes, as a streamed answer does page by page. */
function write(format: StreamFormat, parts: number[], nextCursor?: string): string {
  const writer = new AnswerWriter(format, COLUMNS, { from: 0, to: 10 });
  writer.open();
  let text = taken(writer);
  let at = 0;
  for (const size of parts) {
    writer.items(ITEMS.slice(at, at + size));
    text += taken(writer);
    at += size;
  }
  writer.close(nextCursor);
  return text + taken(writer);
}

/** What the writer wrote since it was last asked, as text. */
function taken(writer: AnswerWriter): string {
  return Buffer.concat(writer.take()).toString('utf8');
}

describe('AnswerWriter', () => {
  it('writes the same text however the items are split into parts', () => {
    for (const format of ['json', 'csv', 'ndjson', 'compact'] as const) {
      expect(write(format, [1, 0, 2]), format).toBe(write(format, [3]));
    }
  });

  it('writes each item as JSON.stringify would, for awkward strings and numbers alike', () => {
    const columns = ['device', 'metric', 'ts', 'value', 'coverage'];
    const items: Record<string, string | number>[] = [
      { device: 'q"uote\\back', metric: 'ünï\u2028', ts: -0, value: 1e21, coverage: 5e-324 },
      { device: 'q"uote\\back', metric: 'ünï\u2028', ts: 2 ** 53 - 1, value: -0.1 },
      { device: 'x', metric: 'y', ts: 3, value: Number.NaN, coverage: Number.POSITIVE_INFINITY },
    ];
    const writer = (format: StreamFormat) => new AnswerWriter(format, columns, {});
    const ndjson = writer('ndjson');
    ndjson.items(items);
    expect(taken(ndjson)).toBe(items.map((item) => `${JSON.stringify(item)}\n`).join(''));
    const json = writer('json');
    json.items(items);
    expect(`[${taken(json)}]`).toBe(JSON.stringify(items));
    const compact = writer('compact');
    compact.open();
    compact.items(items);
    compact.close(undefined);
    const text = taken(compact);
    const points = items.map((item) => JSON.stringify([item.ts, item.value, item.coverage]));
    expect(text).toBe(
      '{"columns":["ts","value","coverage"],"series":[' +
        `{"device":${JSON.stringify(items[0]?.device)},"metric":${JSON.stringify(items[0]?.metric)},"points":[${points[0]},${points[1]}]},` +
        `{"device":"x","metric":"y","points":[${points[2]}]}]}`,
    );
  });

  it('writes items of one series that lack the column after metric, or hold a string there, as JSON.stringify would', () => {
    const columns = ['device', 'metric', 'unit', 'value'];
    const items: Record<string, string | number>[] = [
      { device: 'a', metric: 't', unit: '°C', value: 1 },
      { device: 'a', metric: 't', value: 2 },
      { device: 'a', metric: 't', unit: 'K', value: 3 },
      { device: 'b', metric: 't', value: 4 },
      { device: 'b', metric: 't', unit: 7, value: 5 },
    ];
    for (const format of ['json', 'ndjson'] as const) {
      const writer = new AnswerWriter(format, columns, {});
      writer.items(items);
      const text = taken(writer);
      expect(format === 'json' ? `[${text}]` : text).toBe(
        format === 'json' ? JSON.stringify(items) : items.map((item) => `${JSON.stringify(item)}\n`).join(''),
      );
    }
  });

  it("writes today's JSON shape, with the cursor last", () => {
    expect(JSON.parse(write('json', [3], 'abc'))).toEqual({ from: 0, to: 10, items: ITEMS, nextCursor: 'abc' });
  });

  it('writes each series once in the compact shape, and an empty answer as valid JSON', () => {
    expect(JSON.parse(write('compact', [2, 1]))).toEqual({
      from: 0,
      to: 10,
      columns: ['ts', 'value'],
      series: [
        {
          device: 'a',
          metric: 't',
          points: [
            [1, 1.5],
            [2, 2],
          ],
        },
        { device: 'b,c', metric: 't', points: [[1, -1]] },
      ],
    });
    expect(JSON.parse(write('compact', []))).toEqual({ from: 0, to: 10, columns: ['ts', 'value'], series: [] });
    expect(JSON.parse(write('json', []))).toEqual({ from: 0, to: 10, items: [] });
  });

  it('writes RFC 4180 CSV with one header and NDJSON with one item a line', () => {
    expect(write('csv', [1, 2])).toBe('device,metric,ts,value\r\na,t,1,1.5\r\na,t,2,2\r\n"b,c",t,1,-1\r\n');
    expect(
      write('ndjson', [3])
        .split('\n')
        .slice(0, -1)
        .map((line) => JSON.parse(line)),
    ).toEqual(ITEMS);
  });
});

describe('AnswerWriter across chunks', () => {
  it('writes a large answer, over many chunks, byte for byte as JSON.stringify and the CSV formatter would', () => {
    const items = Array.from({ length: 20_000 }, (_, i) => ({
      device: `dev-${Math.floor(i / 7_000)}${i % 9_999 === 0 ? 'ü"' : ''}`,
      metric: i % 2 === 0 ? 'temperature' : 'humidity',
      ts: 1_795_867_200_000 + i * 10_000,
      value: i % 3 === 0 ? i / 7 : i,
    }));
    const ndjson = new AnswerWriter('ndjson', COLUMNS, {});
    ndjson.items(items.slice(0, 12_345));
    ndjson.items(items.slice(12_345));
    const chunks = ndjson.take();
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(items.map((item) => `${JSON.stringify(item)}\n`).join(''));
    const csv = new AnswerWriter('csv', COLUMNS, {});
    csv.open();
    csv.items(items);
    expect(taken(csv)).toBe(
      formatCsv(
        COLUMNS,
        items.map((item) => [item.device, item.metric, item.ts, item.value]),
      ),
    );
  });
});
