import type { SendOutcome } from './send-outcome.js';

/** Delay from a Retry-After header given in seconds (RFC 9110 §10.2.3); HTTP dates are not used by nodes. */
function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const text = Array.isArray(header) ? header[0] : header;
  if (text === undefined || !/^\d+$/.test(text.trim())) return undefined;
  return Number(text.trim()) * 1000;
}

/** The error code in a node's error body, or a code made from the status. */
function errorCode(status: number, body: unknown): string {
  const error = (body as { error?: { code?: unknown } } | null)?.error;
  return typeof error?.code === 'string' ? error.code : `HTTP_${status}`;
}

/**
 * What an answer to POST /v1/messages means for the device (docs/PROTOCOL.md §9.3):
 * 2xx stored; 408, 429 and 5xx retry (after Retry-After); any other status refused for good.
 */
export function outcomeOfResponse(
  status: number,
  retryAfter: string | string[] | undefined,
  body: unknown,
): SendOutcome {
  if (status >= 200 && status < 300) return { kind: 'acknowledged' };
  const code = errorCode(status, body);
  if (status === 408 || status === 429 || status >= 500) {
    const after = retryAfterMs(retryAfter);
    return after === undefined ? { kind: 'retry', code } : { kind: 'retry', code, retryAfterMs: after };
  }
  return { kind: 'rejected', code };
}

/** One result of POST /v1/messages/batch as an outcome; the batch answer carries no Retry-After. */
export function outcomeOfBatchResult(result: unknown): SendOutcome {
  const r = result as { status?: unknown; code?: unknown; retryable?: unknown } | null;
  if (r?.status === 'accepted') return { kind: 'acknowledged' };
  const code = typeof r?.code === 'string' ? r.code : 'CLIENT_BAD_BATCH_RESULT';
  return r?.retryable === true ? { kind: 'retry', code } : { kind: 'rejected', code };
}
