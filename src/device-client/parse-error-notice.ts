import type { ErrorNotice } from '../protocol/topics.js';

/** Reads a notice from `devices/{device}/errors` (docs/PROTOCOL.md §10.1); undefined when the payload is not one. */
export function parseErrorNotice(payload: Uint8Array): ErrorNotice | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return undefined;
  }
  const n = value as Record<string, unknown> | null;
  if (n === null || typeof n !== 'object' || typeof n.code !== 'string' || typeof n.retryable !== 'boolean') {
    return undefined;
  }
  const seq = typeof n.seq === 'number' ? n.seq : null;
  const retryAfter = typeof n.retryAfter === 'number' ? n.retryAfter : undefined;
  const message = typeof n.message === 'string' ? n.message : '';
  return { seq, code: n.code, message, retryable: n.retryable, ...(retryAfter === undefined ? {} : { retryAfter }) };
}
