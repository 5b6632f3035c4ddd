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
  mqttUsername: text(
    { env: 'TELEMETRY_MQTT_USERNAME', description: 'User name on the external broker (empty: none)' },
    '',
  ),
  mqttPassword: text(
    { env: 'TELEMETRY_MQTT_PASSWORD', description: 'Password on the external broker (empty: none); never logged' },
    '',
  ),
  mqttShareGroup: text(
    { env: 'TELEMETRY_MQTT_SHARE_GROUP', description: 'Shared subscription group on the external broker' },
    'telemetry-ingest',
  ),
  // Unique across nodes: a second connection with the same id takes the first one's place at the broker.
  mqttClientId: text(
    {
      env: 'TELEMETRY_MQTT_CLIENT_ID',
      description:
        'Client id on the external broker (empty: telemetry-ingest-<hostname>-<pid>); unique across nodes and workers',
    },
    '',
  ),
  // The node works on every message as it arrives, up to the Receive Maximum of each connection; one connection
  // carries a node's full rate (docs/PERFORMANCE.md "External broker"). More only help to spread a node over
  // brokers of a cluster that pins a connection to one broker.
  mqttConnections: integer(
    {
      env: 'TELEMETRY_MQTT_CONNECTIONS',
      description:
        'Connections to the external broker, each a member of the share group (client ids <id>, <id>-2, ...)',
    },
    1,
    1,
    64,
  ),
  mqttReceiveMaximum: integer(
    {
      env: 'TELEMETRY_MQTT_RECEIVE_MAXIMUM',
      description:
        'MQTT 5 Receive Maximum of each external-broker connection: messages the broker may hand it before the first is acknowledged',
    },
    256,
    1,
    65_535,
  ),
};
