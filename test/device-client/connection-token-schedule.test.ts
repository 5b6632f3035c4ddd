import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  connectionTokenSchedule,
  deviceSignerFromJwk,
  generateKey,
  signConnectionToken,
  TOKEN_RENEW_GRACE_MS,
  tokenDueForRenewal,
} from '../../src/index.js';

/** A frozen clock: ms since the epoch, with a fraction of a second so the token's whole-second rounding shows. */
const NOW = Date.UTC(2026, 11, 5, 9, 30, 0) + 999;

describe('connectionTokenSchedule', () => {
  it('renews at 80 % of the lifetime, counted from the whole-second iat, well before the token expires', () => {
    const schedule = connectionTokenSchedule(NOW, 3600);
    expect(schedule.issuedAt).toBe(NOW - 999);
    // iat and exp are whole seconds: the token ends up to a second before NOW + ttl.
    expect(schedule.expiresAt).toBe(NOW - 999 + 3_600_000);
    expect(schedule.renewAt).toBe(NOW - 999 + 2_880_000);
    expect(schedule.graceMs).toBe(TOKEN_RENEW_GRACE_MS);
    expect(schedule.renewAt + schedule.graceMs).toBeLessThan(schedule.expiresAt);
  });

  it.each([2, 3, 5, 60, 3600, 86_400])(
    'with a %i s token, is due for renewal from renewAt on, before expiry',
    (ttl) => {
      for (const offset of [0, 1, 500, 999]) {
        const now = NOW - 999 + offset;
        const schedule = connectionTokenSchedule(now, ttl);
        expect(schedule.renewAt).toBeGreaterThan(now);
        expect(schedule.renewAt).toBeLessThan(schedule.expiresAt);
        // Stepping the frozen clock forward: not due a millisecond before renewAt, due at it, and still before exp.
        expect(tokenDueForRenewal(schedule, schedule.renewAt - 1)).toBe(false);
        expect(tokenDueForRenewal(schedule, schedule.renewAt)).toBe(true);
        expect(schedule.expiresAt - schedule.renewAt).toBeCloseTo(ttl * 200, 6);
      }
    },
  );

  it('gives the claims a token signed at issuedAt carries', async () => {
    const key = await generateKey('EdDSA', 'sensor-1.k1', 'sensor-1');
    const signer = await deviceSignerFromJwk(key.privateJwk);
    const schedule = connectionTokenSchedule(NOW, 300);
    const token = await signConnectionToken(signer, { now: schedule.issuedAt, lifetimeSeconds: 300 });
    const claims = decodeJwt(token);
    expect(claims.iat).toBe(schedule.issuedAt / 1000);
    expect(claims.exp).toBe(schedule.expiresAt / 1000);
  });
});
