/** What became of one attempt to send a message (docs/PROTOCOL.md §9.3, §10, §11). */
export type SendOutcome =
  /** Stored: HTTP 2xx or MQTT PUBACK without a notice. */
  | { readonly kind: 'acknowledged' }
  /** Refused for good; sending the same bytes again cannot help. */
  | { readonly kind: 'rejected'; readonly code: string }
  /** Not stored now, or unknown (no answer): send again later, not before `retryAfterMs`. */
  | { readonly kind: 'retry'; readonly code: string; readonly retryAfterMs?: number };
