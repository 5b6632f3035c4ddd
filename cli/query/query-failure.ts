import { CommandFailure } from '../command.js';

/**
 * A `telemetry query` failed for a reason outside the command line: the node
 * could not be reached, or answered with an error. Printed as one line on
 * stderr, exit code 1. Messages never hold the token.
 */
export class QueryFailure extends CommandFailure {
  override readonly name = 'QueryFailure';
}
