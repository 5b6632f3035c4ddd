import { describe, expect, it } from 'vitest';
import {
  BoundedBacklog,
  DEFAULT_BACKOFF,
  firstAttempt,
  type Jitter,
  outcomeOfBatchResult,
  outcomeOfNotice,
  outcomeOfResponse,
  parseErrorNotice,
  RetryQueue,
  retryDelay,
  SeqCounter,
} from '../../src/index.js';

/** Jitter that always picks the same point of the range: 0 the lowest, 1 the highest. */
const fixedJitter = (point: number): Jitter => ({ between: (min, max) => min + (max - min) * point });

describe('SeqCounter', () => {
  it('persists a block before handing out its first seq, and continues above it after a restart', () => {
    const reserved: number[] = [];
    const first = new SeqCounter({ reserved: 0, reserve: (upTo) => reserved.push(upTo), block: 10 });
    expect([first.next(), first.next(), first.next()]).toEqual([1, 2, 3]);
    expect(reserved).toEqual([10]);
    const restarted = new SeqCounter({
      reserved: reserved.at(-1) ?? 0,
      reserve: (upTo) => reserved.push(upTo),
      block: 10,
    });
    expect(restarted.next()).toBe(11);
    expect(reserved).toEqual([10, 20]);
  });

  it('never hands out a seq whose reservation failed', () => {
    const counter = new SeqCounter({
      reserved: 0,
      reserve: () => {
        throw new Error('disk full');
      },
    });
    expect(() => counter.next()).toThrow('disk full');
    expect(counter.last).toBe(0);
  });
});

describe('BoundedBacklog', () => {
  const entry = (id: number, bytes = 10) => ({ id, bytes });

  it('drops the oldest waiting entries, not those in flight, when a new one does not fit', () => {
    const backlog = new BoundedBacklog(30);
    for (const id of [1, 2, 3]) expect(backlog.add(entry(id))).toEqual([]);
    backlog.markInFlight([1]);
    expect(backlog.add(entry(4))).toEqual([entry(2)]);
    expect([...backlog.waiting()].map((e) => e.id)).toEqual([3, 4]);
    expect(backlog.bytes).toBe(30);
  });

  it('drops an entry larger than the whole backlog instead of emptying it', () => {
    const backlog = new BoundedBacklog(30);
    backlog.add(entry(1));
    expect(backlog.add(entry(2, 31))).toEqual([entry(2, 31)]);
    expect(backlog.size).toBe(1);
  });

  it('takes an entry back to waiting when its answer asks for a retry, and forgets it when acknowledged', () => {
    const backlog = new BoundedBacklog(100);
    backlog.add(entry(1));
    backlog.markInFlight([1]);
    expect([...backlog.waiting()]).toEqual([]);
    backlog.release([1]);
    expect([...backlog.waiting()]).toEqual([entry(1)]);
    expect(backlog.remove(1)).toEqual(entry(1));
    expect(backlog.size).toBe(0);
  });
});

describe('retryDelay', () => {
  it('grows exponentially up to the policy maximum, with full jitter below it', () => {
    const top = fixedJitter(1);
    expect([1, 2, 3].map((n) => retryDelay(n, { baseMs: 100, maxMs: 250 }, top))).toEqual([100, 200, 250]);
    expect(retryDelay(5, DEFAULT_BACKOFF, fixedJitter(0))).toBe(0);
  });

  it('waits at least the Retry-After the node asked for', () => {
    expect(retryDelay(1, DEFAULT_BACKOFF, fixedJitter(0), 2_000)).toBe(2_000);
    expect(retryDelay(1, DEFAULT_BACKOFF, fixedJitter(1), 2_000)).toBe(2_400);
  });
});

describe('what an HTTP answer means for the device (PROTOCOL.md §9.3)', () => {
  it.each([
    [200, 'acknowledged'],
    [400, 'rejected'],
    [401, 'rejected'],
    [403, 'rejected'],
    [404, 'rejected'],
    [413, 'rejected'],
    [415, 'rejected'],
    [422, 'rejected'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
  ])('status %i means %s', (status, kind) => {
    expect(outcomeOfResponse(status, undefined, null).kind).toBe(kind);
  });

  it('keeps the error code and the Retry-After of a refusal', () => {
    const body = { error: { code: 'ERR_OVERLOADED', message: '', retryable: true } };
    expect(outcomeOfResponse(503, '3', body)).toEqual({ kind: 'retry', code: 'ERR_OVERLOADED', retryAfterMs: 3_000 });
    expect(outcomeOfResponse(401, undefined, { error: { code: 'ERR_UNKNOWN_KEY' } })).toEqual({
      kind: 'rejected',
      code: 'ERR_UNKNOWN_KEY',
    });
  });

  it('reads each batch result on its own', () => {
    expect(outcomeOfBatchResult({ status: 'accepted' })).toEqual({ kind: 'acknowledged' });
    expect(outcomeOfBatchResult({ status: 'rejected', code: 'ERR_STORE_UNAVAILABLE', retryable: true })).toEqual({
      kind: 'retry',
      code: 'ERR_STORE_UNAVAILABLE',
    });
    expect(outcomeOfBatchResult({ status: 'rejected', code: 'ERR_DEVICE_MISMATCH', retryable: false }).kind).toBe(
      'rejected',
    );
  });
});

describe('RetryQueue', () => {
  it('holds a message until its backoff has passed, and pauses the device for a Retry-After', () => {
    const queue = new RetryQueue<{ seq: number }>();
    queue.add(
      firstAttempt({ seq: 7 }),
      { kind: 'retry', code: 'ERR_OVERLOADED', retryAfterMs: 1_000 },
      DEFAULT_BACKOFF,
      fixedJitter(0),
      5_000,
    );
    expect(queue.takeDue(5_999)).toBeUndefined();
    expect(queue.pausedUntil).toBe(6_000);
    expect(queue.takeDue(6_000)).toMatchObject({ seq: 7, attempts: 1 });
  });
});

describe('parseErrorNotice', () => {
  it('reads a notice and ignores anything else', () => {
    const notice = { seq: 3, code: 'ERR_RATE_LIMITED', message: 'slow down', retryable: true, retryAfter: 2 };
    expect(parseErrorNotice(Buffer.from(JSON.stringify(notice)))).toEqual(notice);
    expect(parseErrorNotice(Buffer.from('not json'))).toBeUndefined();
  });
});

describe('outcomeOfNotice', () => {
  it.each([
    [
      { seq: 3, code: 'ERR_TIMESTAMP_UNIT', message: '', retryable: false },
      { kind: 'rejected', code: 'ERR_TIMESTAMP_UNIT' },
    ],
    [
      { seq: 3, code: 'ERR_STORE_UNAVAILABLE', message: '', retryable: true, retryAfter: 5 },
      { kind: 'retry', code: 'ERR_STORE_UNAVAILABLE', retryAfterMs: 5_000 },
    ],
    [
      { seq: null, code: 'ERR_OVERLOADED', message: '', retryable: true },
      { kind: 'retry', code: 'ERR_OVERLOADED' },
    ],
  ] as const)('reads %o as %o, the rule HTTP statuses follow too', (notice, outcome) => {
    expect(outcomeOfNotice(notice)).toEqual(outcome);
  });
});
