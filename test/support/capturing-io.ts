import type { CommandIo } from '../../cli/command.js';

/** What a CLI command printed and how it exited. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A CommandIo that keeps what a command prints, for tests that run the CLI in-process. */
export function capturingIo(options: { cwd: string; env?: Readonly<Record<string, string | undefined>> }) {
  let stdout = '';
  let stderr = '';
  const io: CommandIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: options.env ?? {},
    cwd: options.cwd,
  };
  return {
    io,
    stdout: () => stdout,
    stderr: () => stderr,
    result: (code: number): CliResult => ({ code, stdout, stderr }),
  };
}
