import { describe, expect, it } from 'vitest';
import type { SectionResult } from '../../bench/support/bench-result.js';
import { judgeTargets, targetsMarkdown } from '../../bench/support/issue-targets.js';

const section = (name: string, fields: Record<string, unknown>): [string, SectionResult] => [
  name,
  { section: name, ...fields },
];

/** A run that measured every cell, with figures on both sides of each target. */
const FULL = new Map<string, SectionResult>([
  section('verify-cost', { ES256: { rawUs: 50 } }),
  section('ingest-cost', {
    cells: [
      { alg: 'ES256', readings: 1, transport: 'http', store: 'victoriametrics', result: { cpuUsPerMessage: 122.5 } },
      { alg: 'ES256', readings: 1, transport: 'mqtt', store: 'victoriametrics', result: { cpuUsPerMessage: 100 } },
      { alg: 'ES256', readings: 1, transport: 'http', store: 'duckdb', result: { cpuUsPerMessage: 160 } },
      { alg: 'ES256', readings: 1, transport: 'mqtt', store: 'duckdb', result: { cpuUsPerMessage: 150 } },
    ],
    perReading: [
      { alg: 'ES256', transport: 'http', store: 'duckdb', usPerAdditionalReading: 2, fractionOfRawVerify: 0.04 },
      { alg: 'ES256', transport: 'mqtt', store: 'duckdb', usPerAdditionalReading: 7, fractionOfRawVerify: 0.14 },
    ],
  }),
  section('transport-floor', {
    cells: [
      { kind: 'fastify', result: { cpuUsPerMessage: 60 } },
      { kind: 'aedes', result: { cpuUsPerMessage: 45 } },
    ],
  }),
  section('naive-baseline', {
    comparisons: [
      { store: 'duckdb', readings: 1, oursPerSecond: 600, naivePerSecond: 100, throughputRatio: 6 },
      { store: 'duckdb', readings: 10, oursPerSecond: 500, naivePerSecond: 100, throughputRatio: 5 },
      { store: 'victoriametrics', readings: 1, oursPerSecond: 300, naivePerSecond: 100, throughputRatio: 3 },
      { store: 'victoriametrics', readings: 10, oursPerSecond: 200, naivePerSecond: 100, throughputRatio: 2 },
    ],
  }),
  section('ack-latency', {
    runs: [
      { transport: 'http', store: 'duckdb', p50Ms: 4, p99Ms: 12, maxPerSecond: 10, maxPerSecondWithWait: 9 },
      { transport: 'mqtt', store: 'duckdb', p50Ms: 4, p99Ms: 25, maxPerSecond: 10, maxPerSecondWithWait: 9 },
      { transport: 'http', store: 'victoriametrics', p50Ms: 3, p99Ms: 13, maxPerSecond: 8, maxPerSecondWithWait: 9 },
      { transport: 'mqtt', store: 'victoriametrics', p50Ms: 5, p99Ms: 20, maxPerSecond: 10, maxPerSecondWithWait: 10 },
    ],
  }),
  section('workers-scaling', {
    cores: 16,
    runs: [1, 2, 8].map((workers) => ({ workers, messagesPerSecond: workers * 100 })),
  }),
  section('query', {
    rows: [
      { store: 'duckdb', question: 'latest', apiMs: 15, directMs: 10, ratio: 1.5 },
      { store: 'victoriametrics', question: 'latest', apiMs: 16, directMs: 10, ratio: 1.6 },
    ],
  }),
]);

const verdicts = (lines: ReturnType<typeof judgeTargets>) =>
  Object.fromEntries(lines.map((line) => [`${line.item} ${line.cell}`, line.met]));

describe('judgeTargets', () => {
  it('judges each cell of issues 17 and 18 met or missed on its figure, bounds included', () => {
    expect(verdicts(judgeTargets(FULL, 600, false))).toEqual({
      '17.1 HTTP, DuckDB': true,
      '17.1 MQTT, DuckDB': false,
      '17.1 HTTP, VictoriaMetrics': false,
      '17.1 MQTT, VictoriaMetrics': true,
      '17.2 HTTP, DuckDB': false,
      '17.2 MQTT, DuckDB': false,
      '17.2 HTTP, VictoriaMetrics': true,
      '17.2 MQTT, VictoriaMetrics': true,
      '17.3 DuckDB, 1 reading a message': true,
      '17.3 DuckDB, 10 readings a message': false,
      '17.3 VictoriaMetrics, 1 reading a message': true,
      '17.3 VictoriaMetrics, 10 readings a message': false,
      '17.4 HTTP, DuckDB, ES256': true,
      '17.4 MQTT, DuckDB, ES256': false,
      '17.5 16 cores': true,
      '17.6 full': true,
      '18.4 DuckDB: latest': true,
      '18.4 VictoriaMetrics: latest': false,
    });
  });

  it('writes the arithmetic of the own cost into its line', () => {
    const line = judgeTargets(FULL, 600, false).find((l) => l.item === '17.2' && l.cell === 'MQTT, VictoriaMetrics');
    expect(line?.figure).toBe('100 − 50 − 45 (aedes) µs = 0.1 raw verify');
  });

  it('counts a cell the run did not measure as missed, saying so, never as met', () => {
    const lines = judgeTargets(new Map(), 50, true);
    const unmeasured = lines.filter((line) => line.item !== '17.6');
    expect(unmeasured.length).toBeGreaterThan(10);
    for (const line of unmeasured) {
      expect(line.met, `${line.item} ${line.cell}`).toBe(false);
      expect(line.figure).toMatch(/not measured/);
    }
    expect(targetsMarkdown(lines)).toMatch(/^1 of \d+ target lines met/);
  });

  it('misses worker scaling that stopped at 2 workers, and a suite over its time', () => {
    const two = new Map(FULL);
    two.set('workers-scaling', {
      section: 'workers-scaling',
      cores: 2,
      runs: [1, 2].map((workers) => ({ workers, messagesPerSecond: 100 * workers })),
    });
    const lines = judgeTargets(two, 900, false);
    expect(lines.find((l) => l.item === '17.5')).toMatchObject({
      met: false,
      figure: expect.stringMatching(/not measured beyond 2 workers/),
    });
    expect(lines.find((l) => l.item === '17.6')).toMatchObject({ met: false, figure: '900 s (at most 720 s)' });
  });
});
