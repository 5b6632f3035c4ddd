/**
 * How a benchmark section hands its numbers to the suite runner (bench/run-suite.ts): one line
 * `BENCH_RESULT {json}` on stdout, the last of its kind wins. The JSON object has at least
 * `section` (a name) and may have `markdown` (a ready-made summary the runner puts in latest.md).
 */
export const RESULT_PREFIX = 'BENCH_RESULT ';

export interface SectionResult {
  readonly section: string;
  readonly markdown?: string;
  readonly [key: string]: unknown;
}

export function printResult(result: SectionResult): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

/** The last `BENCH_RESULT` object in a section's output, if any. */
export function parseResult(output: string): SectionResult | undefined {
  const lines = output.split('\n').filter((line) => line.startsWith(RESULT_PREFIX));
  const last = lines.at(-1);
  if (last === undefined) return undefined;
  const parsed: unknown = JSON.parse(last.slice(RESULT_PREFIX.length));
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { section?: unknown }).section !== 'string') {
    throw new Error('BENCH_RESULT is not an object with a section name');
  }
  return parsed as SectionResult;
}

/** Command-line switches every section takes. */
export interface SectionArgs {
  /** A second or so per measurement: proves the pieces work, the numbers mean little. */
  readonly quick: boolean;
  readonly values: ReadonlyMap<string, string>;
}

/** Parses `--quick` and `--name value` pairs. */
export function sectionArgs(argv: readonly string[] = process.argv.slice(2)): SectionArgs {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg.startsWith('--') && i + 1 < argv.length && !(argv[i + 1] as string).startsWith('--')) {
      values.set(arg.slice(2), argv[i + 1] as string);
      i++;
    }
  }
  return { quick: argv.includes('--quick'), values };
}

/** Rounds for reports: 3 significant digits. */
export function sig(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return Number(value.toPrecision(3));
}

/** `record` with every number rounded by {@link sig}, for a result's JSON. */
export function sigNumbers<T extends object>(record: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, typeof v === 'number' ? sig(v) : v]));
}

/** Writes a progress line on stderr (stdout is for the result line). */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}
