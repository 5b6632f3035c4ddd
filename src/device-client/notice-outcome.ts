import type { ErrorNotice } from '../protocol/topics.js';
import type { SendOutcome } from './send-outcome.js';

/**
 * What an error notice from `devices/{device}/errors` means for the message it
 * names (docs/PROTOCOL.md §10.1, the MQTT side of §9.3): not retryable, refused
 * for good; retryable, send again, not before its `retryAfter` seconds.
 *
 * @example
 * const notice = parseErrorNotice(payload);
 * if (notice !== undefined && notice.seq === seq) settle(outcomeOfNotice(notice));
 */
export function outcomeOfNotice(notice: ErrorNotice): SendOutcome {
  if (!notice.retryable) return { kind: 'rejected', code: notice.code };
  return notice.retryAfter === undefined
    ? { kind: 'retry', code: notice.code }
    : { kind: 'retry', code: notice.code, retryAfterMs: notice.retryAfter * 1000 };
}
