import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const vitest = `${root}node_modules/vitest/vitest.mjs`;

/** A failure drill: the vitest file that runs it, and how to print the result line it logs. */
export interface Drill<Result> {
  /** The test file, relative to the checkout. */
  readonly testFile: string;
  /** The label before the JSON result the test logs with console.info (`label {...}`). */
  readonly label: string;
  /** Prints one result of the drill, line by line; called for each result the test logged, passed or not. */
  readonly summarize: (result: Result) => readonly string[];
}

/** The audit of acknowledged values, as the drills log it (simulator's VerificationReport['acknowledged']). */
export interface AuditCounts {
  readonly expected: number;
  readonly storedOnce: number;
  readonly missing: number;
  readonly duplicated: number;
  readonly wrongValue: number;
}

/** `12.3 s` */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** `SIM_CONNECTION_LOST=3 ERR_OVERLOADED=1`, or `none`. */
export const retryCounts = (retries: Readonly<Record<string, number>>): string =>
  Object.entries(retries)
    .map(([code, count]) => `${code}=${count}`)
    .join(' ') || 'none';

/** One line of the store audit. */
export const auditLine = (v: AuditCounts): string =>
  `values expected ${v.expected}, stored once ${v.storedOnce}, missing ${v.missing}, duplicated ${v.duplicated}, ` +
  `rounded by VictoriaMetrics ${v.wrongValue}`;

/**
 * Runs a drill's test file with vitest, prints its summary and DRILL PASSED or DRILL FAILED (with the tail of
 * vitest's output), and exits with vitest's code. Extra environment (e.g. TELEMETRY_MQTT_CONNECTIONS=1) passes
 * through to the test and the nodes it starts.
 *
 * @example
 * await runDrill({ testFile: 'test/drills/haproxy-failover.test.ts', label: 'haproxy drill', summarize });
 */
export async function runDrill<Result>(drill: Drill<Result>): Promise<never> {
  const child = spawn(process.execPath, [vitest, 'run', drill.testFile, '--reporter=verbose'], {
    cwd: root,
    env: { ...process.env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

  const label = drill.label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const [, line] of output.matchAll(new RegExp(`${label} (\\{.*\\})`, 'g'))) {
    if (line !== undefined) for (const text of drill.summarize(JSON.parse(line) as Result)) console.log(text);
  }
  if (code === 0) console.log('DRILL PASSED');
  else {
    console.log(output.slice(-6_000));
    console.log('DRILL FAILED');
  }
  process.exit(code ?? 1);
}
