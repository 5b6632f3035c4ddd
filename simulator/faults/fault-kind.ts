/** A fault a device injects on purpose, with what a node must answer. */
export type FaultKind =
  | 'bad-signature'
  | 'other-key'
  | 'replay'
  | 'malformed'
  | 'oversized'
  | 'seconds'
  | 'expired-credential';

/** The answer a node must give a fault: an error code, or (for a replay) acceptance. */
export type ExpectedAnswer = string | 'ACCEPTED';

/**
 * Every fault kind and the answer docs/PROTOCOL.md says it gets. `other-key`
 * signs with another device's key and presents that key (its kid or
 * credential), so the signature verifies and the node finds the payload names
 * another device (§5 step 8). A replay resends the bytes of an acknowledged
 * message: accepted again and stored once (§8).
 */
export const FAULT_KINDS: ReadonlyMap<FaultKind, ExpectedAnswer> = new Map<FaultKind, ExpectedAnswer>([
  ['bad-signature', 'ERR_SIGNATURE_INVALID'],
  ['other-key', 'ERR_DEVICE_MISMATCH'],
  ['replay', 'ACCEPTED'],
  ['malformed', 'ERR_PAYLOAD_MALFORMED'],
  ['oversized', 'ERR_MESSAGE_TOO_LARGE'],
  ['seconds', 'ERR_TIMESTAMP_UNIT'],
  ['expired-credential', 'ERR_CREDENTIAL_EXPIRED'],
]);

export function isFaultKind(value: string): value is FaultKind {
  return FAULT_KINDS.has(value as FaultKind);
}

/**
 * The metric every fault probe carries; no device kind reports it, so a stored
 * `fault_probe` value is proof that a faulty message got through.
 */
export const FAULT_PROBE_METRIC = 'fault_probe';
/** The value of every fault probe (no sensor produces it). */
export const FAULT_PROBE_VALUE = -987_654.321;
