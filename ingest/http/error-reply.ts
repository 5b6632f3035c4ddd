import { ERROR_POLICIES, type ErrorCode, type TelemetryError } from '../../src/errors.js';

/** The JSON body of every error answer. */
export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly retryable: boolean };
}

/** HTTP status, headers and body for a TelemetryError: the one mapping HTTP transports use. */
export function errorReply(error: TelemetryError): {
  status: number;
  headers: Record<string, string>;
  body: ErrorBody;
} {
  const policy = ERROR_POLICIES[error.code];
  const headers: Record<string, string> = {};
  if (policy.retryable) headers['retry-after'] = String(error.retryAfter() ?? 1);
  return {
    status: policy.status,
    headers,
    body: { error: { code: error.code, message: error.message, retryable: policy.retryable } },
  };
}
