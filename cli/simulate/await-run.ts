import { progressLine, type RunHandle, type RunReport } from '../../simulator/index.js';
import type { CommandIo } from '../command.js';

/** How long an interrupted run waits for the answers to what it has in flight, at most. */
const INTERRUPT_GRACE_MS = 5_000;

/** The exit code of a run ended by a signal, as a shell reports one: 128 + the signal's number. */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

type RunSignal = keyof typeof SIGNAL_EXIT_CODES;

/** What awaiting a run gave: its report, and the signal that cut it short, if one did. */
export interface AwaitedRun {
  readonly report: RunReport;
  readonly signal?: RunSignal;
}

/**
 * Shows the run's progress on stderr: one line rewritten every second on a terminal, else (CI,
 * `docker compose logs`) a plain line every `plainEveryMs` (never when 0). Returns the call that stops it.
 */
function showProgress(run: RunHandle, io: CommandIo, plainEveryMs: number): () => void {
  const live = process.stderr.isTTY === true;
  if (!live && plainEveryMs === 0) return () => undefined;
  let last = { at: 0, acked: 0 };
  const line = () => {
    const snapshot = run.snapshot();
    const acked = snapshot.stats.messagesAcknowledged + snapshot.stats.messagesUnconfirmed;
    const rate = ((acked - last.acked) * 1000) / Math.max(1, snapshot.elapsedMs - last.at);
    last = { at: snapshot.elapsedMs, acked };
    return progressLine(snapshot, rate);
  };
  const timer = live
    ? setInterval(() => io.stderr(`\r${line()}\u001b[K`), 1000)
    : setInterval(() => io.stderr(`telemetry simulate run: ${line()}\n`), plainEveryMs);
  return () => {
    clearInterval(timer);
    if (live) io.stderr('\n');
  };
}

/**
 * Waits for the run to end, showing its progress. SIGINT or SIGTERM interrupts it: devices stop
 * sending, the answers to what is in flight are awaited briefly (a second signal ends the wait), and
 * the report, marked interrupted, is still returned, so the summary and the report file are not lost.
 */
export async function awaitRun(run: RunHandle, io: CommandIo, plainProgressEveryMs: number): Promise<AwaitedRun> {
  let signal: RunSignal | undefined;
  const onSignal = (received: RunSignal) => {
    if (signal === undefined) {
      io.stderr(
        `\ntelemetry simulate run: ${received} received: stopping, waiting up to ${INTERRUPT_GRACE_MS / 1000} s for ` +
          'acknowledgements (again to stop waiting)\n',
      );
      signal = received;
    }
    run.interrupt(received, INTERRUPT_GRACE_MS);
  };
  const stopProgress = showProgress(run, io, plainProgressEveryMs);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const report = await run.done;
    return signal === undefined ? { report } : { report, signal };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stopProgress();
  }
}
