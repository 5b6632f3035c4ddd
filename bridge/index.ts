/**
 * The signing bridge (`telemetry bridge`): takes plain readings from devices
 * that cannot sign (Tasmota, Shelly, Zigbee2MQTT and generic rules over a local
 * MQTT broker; JSON and InfluxDB line protocol over HTTP) and forwards them to
 * an ingest node as messages signed with a key per device.
 */

export type { RunningBridge } from './start-bridge.js';
export { startBridge } from './start-bridge.js';
