import { describe, expect, it } from 'vitest';
import { cacheControl, SETTLE_MS } from '../../src/query/cache-policy.js';
import { entityTag, ifNoneMatchHits } from '../../src/query/entity-tag.js';

const NOW = Date.UTC(2026, 10, 28, 12);
const AGE = 7 * 86_400_000;
const SKEW = 60_000;
const policy = (rangeEnd: number | undefined) =>
  cacheControl({ rangeEnd, now: NOW, maxReadingAgeMs: AGE, clockSkewMs: SKEW });

describe('cacheControl', () => {
  it('lets a range that ends before the oldest reading any node accepts be kept a day', () => {
    expect(policy(NOW - AGE - SKEW - SETTLE_MS)).toBe('private, max-age=86400, immutable');
  });

  it('makes caches revalidate a range that may still receive readings, and the newest data', () => {
    expect(policy(NOW - AGE - SKEW - SETTLE_MS + 1)).toBe('private, no-cache');
    expect(policy(NOW)).toBe('private, no-cache');
    expect(policy(undefined)).toBe('private, no-cache');
  });
});

describe('entityTag and If-None-Match', () => {
  it('tags equal bodies equally and different bodies differently', () => {
    expect(entityTag('{"items":[]}')).toBe(entityTag('{"items":[]}'));
    expect(entityTag('{"items":[]}')).not.toBe(entityTag('{"items": []}'));
    expect(entityTag('x')).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
  });

  it('matches *, any tag of a list, and weak tags (RFC 9110 §13.1.2)', () => {
    const tag = entityTag('body');
    expect(ifNoneMatchHits(undefined, tag)).toBe(false);
    expect(ifNoneMatchHits('*', tag)).toBe(true);
    expect(ifNoneMatchHits(`"a", ${tag}`, tag)).toBe(true);
    expect(ifNoneMatchHits(`W/${tag}`, tag)).toBe(true);
    expect(ifNoneMatchHits('"a", "b"', tag)).toBe(false);
  });
});
