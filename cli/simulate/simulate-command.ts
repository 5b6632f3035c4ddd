import type { Command } from '../command.js';
import { subcommandsCommand } from '../dispatch-subcommands.js';
import { subcommandEntry } from '../subcommand.js';
import { provisionSubcommand } from './provision.js';
import { runSubcommand } from './run.js';
import { verifySubcommand } from './verify.js';

/**
 * `telemetry simulate`: provision fleets of simulated devices and run them
 * against ingest nodes, injecting faults on purpose, and audit the store against a run report.
 *
 * @example
 * await runCli(['simulate', 'provision', '--devices', '10', '--out', 'fleet', '--seed', 'demo'], io);
 */
export const simulateCommand: Command = subcommandsCommand({
  command: 'simulate',
  summary: 'Simulate fleets of devices that sign and send realistic readings, and report what was stored',
  subcommands: [provisionSubcommand, runSubcommand, verifySubcommand].map((subcommand) =>
    subcommandEntry('simulate', subcommand),
  ),
});
