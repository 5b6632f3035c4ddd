import { Counter, Gauge, Registry } from 'prom-client';
import type { SkipReason } from './mapping/device-reading.js';

/**
 * What an operator watches on a bridge (GET /metrics). The reading counters add
 * up: loaded + received = acknowledged + rejected + dropped + waiting.
 */
export class BridgeMetrics {
  readonly registry = new Registry();
  /** Inputs (MQTT messages, HTTP requests) taken, by source and mapping. */
  readonly inputs = new Counter({
    name: 'telemetry_bridge_inputs_total',
    help: 'MQTT messages and HTTP requests taken, by source and mapping',
    labelNames: ['source', 'mapping'] as const,
    registers: [this.registry],
  });
  readonly skipped = new Counter({
    name: 'telemetry_bridge_input_skipped_total',
    help: 'Input not forwarded (a whole message, a reading or one value), by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly redeliveriesSkipped = new Counter({
    name: 'telemetry_bridge_redeliveries_skipped_total',
    help: 'MQTT messages the broker delivered again (DUP) that were already in the backlog: acknowledged, not taken again',
    registers: [this.registry],
  });
  readonly loaded = new Counter({
    name: 'telemetry_bridge_readings_loaded_total',
    help: 'Readings a previous run left in the backlog, found at start',
    registers: [this.registry],
  });
  readonly received = new Counter({
    name: 'telemetry_bridge_readings_received_total',
    help: 'Readings written to the backlog',
    registers: [this.registry],
  });
  readonly acknowledged = new Counter({
    name: 'telemetry_bridge_readings_acknowledged_total',
    help: 'Readings the node acknowledged as stored (2xx, or a PUBACK without a notice), which left the backlog',
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'telemetry_bridge_readings_rejected_total',
    help: 'Readings the node refused for good, which left the backlog, by error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly dropped = new Counter({
    name: 'telemetry_bridge_backlog_dropped_readings_total',
    help: 'Oldest readings dropped because the backlog was full',
    registers: [this.registry],
  });
  readonly waiting = new Gauge({
    name: 'telemetry_bridge_backlog_readings',
    help: 'Readings in the backlog, waiting or in flight',
    registers: [this.registry],
  });
  readonly waitingBytes = new Gauge({
    name: 'telemetry_bridge_backlog_bytes',
    help: 'Bytes of readings in the backlog',
    registers: [this.registry],
  });
  readonly requests = new Counter({
    name: 'telemetry_bridge_node_requests_total',
    help: 'Requests to the node, by endpoint (single, batch; mqtt: one per message published) and result (answered, no_answer)',
    labelNames: ['endpoint', 'result'] as const,
    registers: [this.registry],
  });
  readonly mqttConnects = new Counter({
    name: 'telemetry_bridge_node_mqtt_connects_total',
    help: "Device connections to the node's embedded broker, by result (connected, refused, no_answer)",
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly mqttConnections = new Gauge({
    name: 'telemetry_bridge_node_mqtt_connections',
    help: "Device connections to the node's embedded broker open now",
    registers: [this.registry],
  });
  readonly mqttTokenRenewals = new Counter({
    name: 'telemetry_bridge_node_mqtt_token_renewals_total',
    help: 'Device connections closed and opened again with a fresh connection token before it expired',
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: 'telemetry_bridge_message_retries_total',
    help: 'Messages to be sent again, by error code (or network error)',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly keysCreated = new Counter({
    name: 'telemetry_bridge_keys_created_total',
    help: 'Device keys the bridge created',
    registers: [this.registry],
  });

  skip(reason: SkipReason): void {
    this.skipped.inc({ reason });
  }
}
