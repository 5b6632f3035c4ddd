import { describe, expect, it } from 'vitest';
import { pinned, planCores, workerCounts } from '../../bench/support/core-plan.js';

describe('the workers bench core plan', () => {
  it('gives the node half of 16 cores, VictoriaMetrics two and the load the six left', () => {
    const plan = planCores(16);
    expect(plan?.maxWorkers).toBe(8);
    expect([1, 2, 4, 8].map((n) => plan?.node(n))).toEqual(['0', '0-1', '0-3', '0-7']);
    expect(plan?.store).toBe('8-9');
    expect(plan?.load).toEqual(['10', '11', '12', '13', '14', '15']);
  });

  it('keeps every share on a core that exists, however few', () => {
    for (const cores of [2, 3, 4, 5, 8, 12, 64]) {
      const plan = planCores(cores);
      const named = [plan?.node(plan.maxWorkers), plan?.store, ...(plan?.load ?? [])].join(',');
      const highest = Math.max(...named.split(/[,-]/).map(Number));
      expect(highest, `${cores} cores: ${named}`).toBeLessThan(cores);
      expect(plan?.load.length).toBeGreaterThan(0);
    }
    expect(planCores(1)).toBeUndefined();
  });

  it('measures 1, 2, 4, … workers up to the node share, and the share itself', () => {
    expect(workerCounts(8)).toEqual([1, 2, 4, 8]);
    expect(workerCounts(6)).toEqual([1, 2, 4, 6]);
    expect(workerCounts(1)).toEqual([1]);
  });

  it('runs a command through taskset only when cores are named', () => {
    expect(pinned('0-3', '/usr/bin/node', ['serve'])).toEqual(['taskset', ['-c', '0-3', '/usr/bin/node', 'serve']]);
    expect(pinned(undefined, '/usr/bin/node', ['serve'])).toEqual(['/usr/bin/node', ['serve']]);
  });
});
