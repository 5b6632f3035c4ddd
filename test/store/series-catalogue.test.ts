import { describe, expect, it } from 'vitest';
import { SeriesCatalogue } from '../../src/store/series-catalogue.js';

const point = (device: string, metric: string, ts: number, value: number) => ({ device, metric, ts, value });

describe('the series catalogue', () => {
  it('keeps the newest value of each series, the last written on equal times', () => {
    const catalogue = new SeriesCatalogue();
    catalogue.record([point('a', 't', 5, 1), point('a', 't', 3, 2), point('a', 't', 5, 3)]);
    expect(catalogue.latest({})).toEqual([point('a', 't', 5, 3)]);
  });

  it('merges what the store read only where it is strictly newer than what was recorded meanwhile', () => {
    const catalogue = new SeriesCatalogue();
    catalogue.record([point('a', 't', 5, 1), point('b', 't', 1, 1)]);
    catalogue.merge([point('a', 't', 5, 9), point('b', 't', 2, 9), point('c', 't', 0, 9)]);
    expect(catalogue.latest({})).toEqual([point('a', 't', 5, 1), point('b', 't', 2, 9), point('c', 't', 0, 9)]);
  });

  it('answers in (device, metric) order by code unit, filtered by prefix and metrics', () => {
    const catalogue = new SeriesCatalogue();
    catalogue.record([point('pump-2', 'temp', 1, 1), point('pump-10', 'rpm', 1, 2), point('pump-10', 'Temp', 1, 3)]);
    catalogue.record([point('boiler', 'temp', 1, 4), point('pump-2', 'rpm', 1, 5)]);
    expect(catalogue.latest({}).map((p) => `${p.device}/${p.metric}`)).toEqual([
      'boiler/temp',
      'pump-10/Temp',
      'pump-10/rpm',
      'pump-2/rpm',
      'pump-2/temp',
    ]);
    expect(catalogue.latest({ devicePrefix: 'pump-1' })).toEqual([
      point('pump-10', 'Temp', 1, 3),
      point('pump-10', 'rpm', 1, 2),
    ]);
    expect(catalogue.latest({ devicePrefix: 'pump-', metrics: ['rpm'] }).map((p) => p.device)).toEqual([
      'pump-10',
      'pump-2',
    ]);
    expect(catalogue.latest({ devicePrefix: 'nothing' })).toEqual([]);
  });

  it('lists every series with the time of its newest value, and counts them', () => {
    const catalogue = new SeriesCatalogue();
    catalogue.record([point('a', 't', 5, 1), point('a', 'u', 7, 1)]);
    catalogue.record([point('a', 't', 9, 1)]);
    expect(catalogue.series()).toEqual([
      { device: 'a', metric: 't', lastSeen: 9 },
      { device: 'a', metric: 'u', lastSeen: 7 },
    ]);
    expect(catalogue.size).toBe(2);
  });

  it('hands out copies: changing an answer changes nothing kept', () => {
    const catalogue = new SeriesCatalogue();
    catalogue.record([point('a', 't', 5, 1)]);
    const answer = catalogue.latest({}) as { value: number }[];
    for (const item of answer) item.value = 99;
    expect(catalogue.latest({})).toEqual([point('a', 't', 5, 1)]);
  });
});
