import cluster from 'node:cluster';
import { type RunningNode, startNode } from '../../ingest/index.js';
import { ConfigSchema } from '../../src/config/config-schema.js';
import { listSettings, parseConfig } from '../../src/config/parse-config.js';
import { type Command, parseCommandArgs } from '../command.js';
import { runWorkers } from './run-workers.js';
import { reportStartFailure, startFailureReport } from './start-failure.js';

function serveHelp(): string {
  const lines = listSettings().map(({ schema }) => {
    const flag = schema.flag === undefined ? '' : `--${schema.flag}`;
    return `  ${flag.padEnd(22)} ${schema.env.padEnd(38)} ${schema.description} [default: ${JSON.stringify(schema.default)}]`;
  });
  return [
    'Usage: telemetry serve [options]',
    '',
    'Starts an ingest node. With no settings it runs the embedded MQTT broker and',
    'the embedded store, keeping data and the device key registry under ./data.',
    '',
    'Settings (flag, environment variable, meaning):',
    ...lines,
    '',
    'Example:',
    '  TELEMETRY_STORE=influxdb TELEMETRY_INFLUX_URL=http://127.0.0.1:8086 telemetry serve --http-port 8080',
    '',
  ].join('\n');
}

const flagOptions = Object.fromEntries(
  Object.values(ConfigSchema.properties)
    .filter((schema): schema is typeof schema & { flag: string } => 'flag' in schema && typeof schema.flag === 'string')
    .map((schema) => [schema.flag, { type: 'string' as const }]),
);

/** `telemetry serve`: run an ingest node until SIGTERM or SIGINT. */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run an ingest node (HTTP, MQTT) writing to the configured store',
  get help() {
    return serveHelp();
  },
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, flagOptions);
    const config = parseConfig(io.env, values as Record<string, string | undefined>);
    if (config.workers > 1 && cluster.isPrimary) {
      // Human lines go to stderr: stdout carries the workers' JSON log lines only.
      io.stderr(`telemetry: starting ${config.workers} worker processes\n`);
      return runWorkers({
        workers: config.workers,
        log: (line) => io.stderr(`telemetry: ${line}`),
        report: (text) => io.stderr(text),
        shutdownTimeoutMs: config.shutdownTimeoutSeconds * 1000,
      });
    }
    let running: RunningNode;
    try {
      running = await startNode(config, cluster.worker === undefined ? {} : { worker: cluster.worker.id });
    } catch (error) {
      const report = startFailureReport(error, config.logLevel === 'debug' || config.logLevel === 'trace');
      // A worker hands its report to the primary, which prints the first one and stops the pool.
      if (cluster.isWorker) {
        await reportStartFailure(report);
        cluster.worker?.disconnect();
      } else io.stderr(report.text);
      return report.code;
    }
    io.stderr(
      `telemetry: ingest node listening on ${running.httpListening} (mqtt: ${running.mqttListening ?? 'off'}, store: ${config.store})\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        io.stderr(`telemetry: ${signal} received, draining\n`);
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        running.stop().then(resolve, resolve);
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });
    // A worker's IPC channel to the primary would keep it alive: let go of it, so the process exits by itself.
    if (cluster.isWorker) cluster.worker?.disconnect();
    return 0;
  },
};
