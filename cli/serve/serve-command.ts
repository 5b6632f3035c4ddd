import cluster from 'node:cluster';
import type { RunningNode } from '../../ingest/index.js';
import { ConfigSchema } from '../../src/config/config-schema.js';
import { listSettings, parseConfig } from '../../src/config/parse-config.js';
import { type Command, parseCommandArgs } from '../command.js';
import { wrapText } from '../wrap-text.js';
import { runWorkers } from './run-workers.js';
import { reportStartFailure, startFailureReport } from './start-failure.js';

/** Narrower than this, each setting's meaning goes under its names instead of beside them. */
const MIN_MEANING_WIDTH = 40;

/**
 * One row per setting (flag, environment variable, meaning and default), the
 * meaning wrapped to `width`: beside the names when it leaves the meaning room, under them otherwise.
 */
function settingRows(width: number): string[] {
  const settings = listSettings().map(({ schema }) => ({
    flag: schema.flag === undefined ? '' : `--${schema.flag}`,
    env: schema.env,
    meaning: `${schema.description} [default: ${JSON.stringify(schema.default)}]`,
  }));
  const flagWidth = Math.max(...settings.map((s) => s.flag.length));
  const envWidth = Math.max(...settings.map((s) => s.env.length));
  const column = 2 + flagWidth + 2 + envWidth + 2;
  if (width - column >= MIN_MEANING_WIDTH) {
    return settings.flatMap((s) => {
      const [first = '', ...more] = wrapText(s.meaning, width - column);
      return [
        `  ${s.flag.padEnd(flagWidth)}  ${s.env.padEnd(envWidth)}  ${first}`,
        ...more.map((l) => ' '.repeat(column) + l),
      ];
    });
  }
  return settings.flatMap((s) => [
    `  ${s.flag === '' ? s.env : `${s.flag}, ${s.env}`}`,
    ...wrapText(s.meaning, width, '      '),
  ]);
}

function serveHelp(width: number): string {
  return [
    'Usage: telemetry serve [options]',
    '',
    'Starts an ingest node. With no settings it runs the embedded MQTT broker and',
    'the embedded store, keeping data and the device key registry under ./data.',
    '',
    'Settings (flag, environment variable, meaning):',
    ...settingRows(width),
    '',
    'Example:',
    '  TELEMETRY_STORE=influxdb TELEMETRY_INFLUX_URL=http://127.0.0.1:8086 \\',
    '    telemetry serve --http-port 8080',
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
  // Never narrower than 40 columns, where every meaning would take a line a word.
  help: (io) => serveHelp(Math.max(40, io.columns ?? 80)),
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
    // The node (fastify, aedes, the stores) is loaded only to run it, never for --help.
    const { startNode } = await import('../../ingest/index.js');
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
