import { choice, integer, text } from './setting-builders.js';

/** MQTT: which transport, the embedded broker it runs, and the external broker it subscribes on. Part of ConfigSchema, in its order. */
export const mqttSettings = {
  mqtt: choice(
    {
      env: 'TELEMETRY_MQTT',
      flag: 'mqtt',
      description: 'embedded: devices connect to this node; external: subscribe on a broker; off',
    },
    ['embedded', 'external', 'off'],
    'embedded',
  ),
  mqttHost: text(
    { env: 'TELEMETRY_MQTT_HOST', flag: 'mqtt-host', description: 'Address the embedded broker listens on' },
    '0.0.0.0',
  ),
  mqttPort: integer(
    { env: 'TELEMETRY_MQTT_PORT', flag: 'mqtt-port', description: 'Embedded broker TCP port (0 picks a free one)' },
    1883,
    0,
    65_535,
  ),
  mqttTlsPort: integer(
    {
      env: 'TELEMETRY_MQTT_TLS_PORT',
      flag: 'mqtt-tls-port',
      description: 'Embedded broker TLS port; -1 turns TLS off',
    },
    -1,
    -1,
    65_535,
  ),
  mqttTlsCert: text(
    { env: 'TELEMETRY_MQTT_TLS_CERT', description: 'PEM certificate chain file for MQTT over TLS' },
    '',
  ),
  mqttTlsKey: text({ env: 'TELEMETRY_MQTT_TLS_KEY', description: 'PEM private key file for MQTT over TLS' }, ''),
  mqttWsPort: integer(
    {
      env: 'TELEMETRY_MQTT_WS_PORT',
      flag: 'mqtt-ws-port',
      description: 'Embedded broker WebSocket port; -1 turns it off',
    },
    -1,
    -1,
    65_535,
  ),
  mqttMaxPendingPerConnection: integer(
    {
      env: 'TELEMETRY_MQTT_MAX_PENDING_PER_CONNECTION',
      description:
        'Messages of one embedded-broker connection in the pipeline at once, at most; at the limit the node stops reading from it',
    },
    32,
    1,
    65_535,
  ),
  mqttBrokerUrl: text(
    {
      env: 'TELEMETRY_MQTT_BROKER_URL',
      flag: 'mqtt-broker-url',
      description: 'External broker URL (mqtt:// or mqtts://), with mqtt=external',
    },
    '',
  ),
  mqttShareGroup: text(
    { env: 'TELEMETRY_MQTT_SHARE_GROUP', description: 'Shared subscription group on the external broker' },
    'telemetry-ingest',
  ),
  // Stable per node: the broker keeps the node's unacknowledged messages in the session under this id and
  // redelivers them only to it. Unique across nodes: a second connection with the same id takes the session over.
  mqttClientId: text(
    {
      env: 'TELEMETRY_MQTT_CLIENT_ID',
      description:
        'Client id on the external broker (empty: telemetry-ingest-<hostname>); stable per node, unique across nodes',
    },
    '',
  ),
  // mqtt.js reads a connection's next message only once the previous one is acknowledged, i.e. stored: one
  // connection carries one message per batch wait plus store write (about 43/s at the defaults, measured with
  // scripts/measure-external-broker.ts), so a node opens several, each its own session in the share group.
  mqttConnections: integer(
    {
      env: 'TELEMETRY_MQTT_CONNECTIONS',
      description:
        'Connections to the external broker, each its own persistent session in the share group (client ids <id>, <id>-2, ...): how many messages the node works on at once',
    },
    16,
    1,
    64,
  ),
  mqttSessionExpirySeconds: integer(
    {
      env: 'TELEMETRY_MQTT_SESSION_EXPIRY_SECONDS',
      description: "How long the external broker keeps a node's session and unacknowledged messages while it is away",
    },
    3600,
    0,
    4_294_967_295,
  ),
};
