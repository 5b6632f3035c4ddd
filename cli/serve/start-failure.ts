import cluster from 'node:cluster';
import { ConfigError } from '../../src/errors.js';

/** What `telemetry serve` prints when the node cannot start, and the exit code it ends with. */
export interface StartFailureReport {
  readonly text: string;
  /** 78 (EX_CONFIG, sysexits.h) when a setting is to blame, 1 otherwise. */
  readonly code: number;
}

/** The IPC message a worker sends the primary when it cannot start. */
export interface StartFailureMessage {
  readonly type: 'telemetry:start-failed';
  readonly report: StartFailureReport;
}

export function isStartFailureMessage(message: unknown): message is StartFailureMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as { type?: unknown }).type === 'telemetry:start-failed' &&
    typeof (message as { report?: { text?: unknown } }).report?.text === 'string'
  );
}

/**
 * A start-up failure as lines an operator can act on: a ConfigError's problems
 * (each naming its setting, value, fault and fix) with exit 78; anything else
 * as one line with exit 1. Stacks only when `debug` (TELEMETRY_LOG_LEVEL=debug
 * or trace) asks for them.
 */
export function startFailureReport(error: unknown, debug: boolean): StartFailureReport {
  const stack = debug ? stacksOf(error) : '';
  if (error instanceof ConfigError) return { text: `telemetry serve: ${error.message}\n${stack}`, code: 78 };
  const message = error instanceof Error ? error.message : String(error);
  const hint = debug ? '' : ' (TELEMETRY_LOG_LEVEL=debug shows where)';
  return { text: `telemetry serve: cannot start: ${message}${hint}\n${stack}`, code: 1 };
}

/** The stack of an error and of each cause under it. */
function stacksOf(error: unknown): string {
  const stacks: string[] = [];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    stacks.push(depth === 0 ? (e.stack ?? e.message) : `caused by: ${e.stack ?? e.message}`);
  }
  return stacks.length === 0 ? '' : `${stacks.join('\n')}\n`;
}

/** Hands a worker's start-up failure to the primary, which prints it once for the whole pool. */
export function reportStartFailure(report: StartFailureReport): Promise<void> {
  const message: StartFailureMessage = { type: 'telemetry:start-failed', report };
  return new Promise((resolve) => {
    const worker = cluster.worker;
    if (worker === undefined || !worker.isConnected()) return resolve();
    worker.send(message, () => resolve());
  });
}
