/** Share of a connection token's lifetime after which a client renews it. */
export const TOKEN_RENEW_SHARE = 0.8;

/** Longest a renewal waits for the messages in flight on the old connection before it reconnects anyway. */
export const TOKEN_RENEW_GRACE_MS = 5_000;

/** When a connection token is valid and when its connection should be renewed, ms since the epoch. */
export interface ConnectionTokenSchedule {
  /** The `iat` claim, ms: `now` rounded down to a whole second. Sign the token with this as its `now`. */
  readonly issuedAt: number;
  /** The `exp` claim, ms: when the node closes the connection (docs/PROTOCOL.md §4.3). */
  readonly expiresAt: number;
  /** When to stop sending on the connection and reconnect with a fresh token. */
  readonly renewAt: number;
  /** How long, from `renewAt`, the messages in flight may take to settle before the old connection is closed. */
  readonly graceMs: number;
}

/**
 * The schedule of a connection token signed at `now` to live `ttlSeconds`
 * (docs/PROTOCOL.md §4.3): `iat` and `exp` are whole seconds, so the token may
 * expire up to a second before `now + ttl`, and the lifetime is counted from
 * `iat`: the connection is renewed at 80 % of it, leaving a fifth for the
 * messages in flight (given {@link TOKEN_RENEW_GRACE_MS} to settle) and the
 * reconnect.
 * Pure: the caller owns the clock, the signing and the timers.
 *
 * @example
 * const schedule = connectionTokenSchedule(Date.now(), 3600);
 * const password = await signConnectionToken(signer, { now: schedule.issuedAt, lifetimeSeconds: 3600, audience });
 * setTimeout(renew, schedule.renewAt - Date.now());
 */
export function connectionTokenSchedule(now: number, ttlSeconds: number): ConnectionTokenSchedule {
  const issuedAt = Math.floor(now / 1000) * 1000;
  const lifetimeMs = ttlSeconds * 1000;
  const expiresAt = issuedAt + lifetimeMs;
  return {
    issuedAt,
    expiresAt,
    renewAt: issuedAt + lifetimeMs * TOKEN_RENEW_SHARE,
    graceMs: TOKEN_RENEW_GRACE_MS,
  };
}

/** Whether a connection whose token has `schedule` should be renewed before anything more is sent on it. */
export function tokenDueForRenewal(schedule: ConnectionTokenSchedule, now: number): boolean {
  return now >= schedule.renewAt;
}
