// Backoff moved to the shared device-client module (src/device-client/retry-delay.ts); mqtt-link.ts still
// imports it from here while its MQTT acknowledgement is being reworked, so this file forwards it.
export type { BackoffPolicy } from '../../src/index.js';
export { retryDelay } from '../../src/index.js';
