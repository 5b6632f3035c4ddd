// Reading error notices moved to the shared device-client module (src/device-client/parse-error-notice.ts);
// mqtt-link.ts still imports it from here while its MQTT acknowledgement is being reworked, so this file forwards it.
export { parseErrorNotice } from '../../src/index.js';
