import { bridgeFlags, listBridgeSettings, parseBridgeSettings } from '../../bridge/settings/bridge-settings.js';
import { type Command, parseCommandArgs } from '../command.js';

function bridgeHelp(): string {
  const lines = listBridgeSettings().map(
    (s) => `  ${`--${s.flag}`.padEnd(26)} ${s.env.padEnd(42)} ${s.description} [default: ${JSON.stringify(s.default)}]`,
  );
  return [
    'Usage: telemetry bridge [options]',
    '',
    'Runs a signing bridge next to devices that cannot sign (Tasmota, Shelly Gen2,',
    'Zigbee2MQTT, generic JSON over a local MQTT broker; JSON and InfluxDB line',
    'protocol over HTTP) and forwards their readings to an ingest node, signed with',
    'a key per device. The signature proves that this bridge saw a reading,',
    'not that the sensor produced it (docs/BRIDGE.md).',
    '',
    'Settings (flag, environment variable, meaning):',
    ...lines,
    '',
    'Example:',
    '  telemetry bridge --node-url http://node:8080 --mqtt-url mqtt://127.0.0.1:1883 --registry registry.json',
    '  telemetry bridge --node-mqtt-url mqtt://node:1883 --mqtt-url mqtt://127.0.0.1:1883 --registry registry.json',
    '',
  ].join('\n');
}

/** `telemetry bridge`: run a signing bridge until SIGTERM or SIGINT. */
export const bridgeCommand: Command = {
  name: 'bridge',
  summary: 'Sign and forward readings of devices that cannot sign (MQTT, HTTP, line protocol)',
  help() {
    return bridgeHelp();
  },
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, bridgeFlags());
    const settings = parseBridgeSettings(io.env, values as Record<string, string | undefined>);
    // Loaded only when the bridge runs: the other commands need none of MQTT, fastify or the journal.
    const { startBridge } = await import('../../bridge/index.js');
    const running = await startBridge(settings);
    const node = settings.nodeMqttUrl === '' ? settings.nodeUrl : settings.nodeMqttUrl;
    io.stdout(`telemetry: bridge listening on ${running.httpUrl}, forwarding to ${node}\n`);
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        io.stderr(`telemetry: ${signal} received, stopping the bridge\n`);
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        running.stop().then(resolve, resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    return 0;
  },
};
