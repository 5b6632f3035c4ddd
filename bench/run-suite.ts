/**
 * The benchmark suite (`npm run bench`, `npm run bench -- --quick`): builds the node, runs every
 * section as a child process, collects the `BENCH_RESULT {json}` line each prints, and writes
 * bench/results/<date>.json, bench/results/latest.json and bench/results/latest.md.
 * `--quick` runs each measurement for about a second, without the build (tsx), and writes
 * bench/results/quick-latest.{json,md} only: a smoke run whose numbers mean little.
 * `--only a,b` runs only the named sections. Arguments after a `--` go to every section run, e.g.
 * `npm run bench -- --only ingest-cost -- --stores victoriametrics --algs ES256`; such a narrowed run writes
 * bench/results/partial-latest.{json,md} and leaves latest.{json,md} alone.
 * docs/PERFORMANCE.md explains the sections.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseResult, type SectionResult, sig } from './support/bench-result.js';
import { judgeTargets, targetsMarkdown } from './support/issue-targets.js';
import { BUILT_DIR, buildForBench, type NodeRuntime, ROOT, scriptArgs } from './support/node-runtime.js';
import { parseVerifyCosts } from './support/raw-verify.js';

interface Section {
  readonly name: string;
  readonly script: string;
  readonly title: string;
  /** Extra arguments, from the results so far. */
  readonly args?: (results: ReadonlyMap<string, SectionResult>) => string[];
}

const SECTIONS: readonly Section[] = [
  {
    name: 'verify-cost',
    script: 'bench/verify-cost.ts',
    title: '1. The limit: raw signature verification',
    args: () => ['--json'],
  },
  {
    name: 'ingest-cost',
    script: 'bench/ingest-cost.ts',
    title: '2. Ingest node CPU per accepted message',
    args: (results) => {
      const costs = results.get('verify-cost');
      const es = (costs?.ES256 as { rawUs?: number } | undefined)?.rawUs;
      const ed = (costs?.EdDSA as { rawUs?: number } | undefined)?.rawUs;
      return es === undefined || ed === undefined ? [] : ['--raw-es256', String(es), '--raw-eddsa', String(ed)];
    },
  },
  {
    name: 'transport-floor',
    script: 'bench/transport-floor.ts',
    title: 'Transport floor: what a message costs before verification',
    // The floor is divided by the same raw ES256 verify as ingest-cost's cells (measured itself when run alone).
    args: (results) => {
      const es = (results.get('verify-cost')?.ES256 as { rawUs?: number } | undefined)?.rawUs;
      return es === undefined ? [] : ['--raw-es256', String(es)];
    },
  },
  { name: 'naive-baseline', script: 'bench/naive-baseline.ts', title: '3. Against a naive baseline server' },
  {
    name: 'external-broker',
    script: 'bench/external-broker.ts',
    title: 'External broker: one node through Mosquitto against the embedded broker',
  },
  { name: 'workers-scaling', script: 'bench/workers-scaling.ts', title: '4. Worker processes' },
  { name: 'ack-latency', script: 'bench/ack-latency.ts', title: '5. Acknowledgement latency at half the maximum rate' },
  { name: 'idle-connections', script: 'bench/idle-connections.ts', title: 'Memory per idle MQTT connection' },
  { name: 'cpu-profile', script: 'bench/cpu-profile.ts', title: 'Where the CPU goes (profile)' },
  { name: 'query', script: 'bench/query-speed.ts', title: 'Query API against the store itself' },
];

/** Runs one section script; resolves with its output (stdout is echoed as it comes). */
function runSection(
  script: string,
  args: readonly string[],
  runtime: NodeRuntime,
): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...scriptArgs(script, 'tsx'), ...args], {
      cwd: ROOT,
      env: { ...process.env, TELEMETRY_BENCH_RUNTIME: runtime },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      stdout += text;
      process.stdout.write(text.replace(/^BENCH_RESULT .*$/gm, '(result collected)'));
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout }));
  });
}

function git(args: readonly string[]): string {
  try {
    return execFileSync('git', [...args], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function verifyCostMarkdown(result: SectionResult): string {
  const rows = (['ES256', 'EdDSA'] as const).map((alg) => {
    const r = result[alg] as
      | { rawUs?: number; joseUs?: number; verifyMessageUs?: number; joseRatio?: number; verifyMessageRatio?: number }
      | undefined;
    // The script's own ratios (medians of per-round ratios) when it gives them, else ratios of the medians.
    const ratio = (given: number | undefined, us: number | undefined) => {
      const value = given ?? (us === undefined || r?.rawUs === undefined ? undefined : us / r.rawUs);
      return value === undefined ? '—' : `${sig(value)}×`;
    };
    return `| ${alg} | ${sig(r?.rawUs ?? Number.NaN)} | ${sig(r?.joseUs ?? Number.NaN)} (${ratio(r?.joseRatio, r?.joseUs)}) | ${sig(r?.verifyMessageUs ?? Number.NaN)} (${ratio(r?.verifyMessageRatio, r?.verifyMessageUs)}) |`;
  });
  return [
    '| alg | raw node:crypto verify, CPU µs | jose compactVerify, CPU µs (× raw) | verifyMessage, CPU µs (× raw) |',
    '|---|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

/** The suite's command line: `--quick`, `--only a,b`, and what follows a `--` for every section. */
interface SuiteArgs {
  readonly quick: boolean;
  readonly only: ReadonlySet<string> | undefined;
  readonly sectionExtra: readonly string[];
}

function suiteArgs(all: readonly string[]): SuiteArgs {
  const separator = all.indexOf('--');
  const argv = separator >= 0 ? all.slice(0, separator) : all;
  const sectionExtra = separator >= 0 ? all.slice(separator + 1) : [];
  const quick = argv.includes('--quick');
  const onlyIndex = argv.indexOf('--only');
  const only = onlyIndex >= 0 ? new Set((argv[onlyIndex + 1] ?? '').split(',')) : undefined;
  return { quick, only, sectionExtra };
}

/** Builds the node for the measured processes (not with `--quick`); tsx's loader when the build fails. */
async function chooseRuntime(quick: boolean, notes: string[]): Promise<NodeRuntime> {
  if (quick) return 'tsx';
  process.stderr.write(`building the node into ${BUILT_DIR} ...\n`);
  try {
    await buildForBench();
    return 'built';
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n').slice(0, 5).join(' ') : String(error);
    notes.push(`The build failed (${message}); the measured processes ran on tsx's loader instead.`);
    process.stderr.write(`build failed, measuring with tsx: ${message}\n`);
    return 'tsx';
  }
}

/** What the sections gave: their results, the errors of those that failed, and how long each took, s. */
interface SectionsRun {
  readonly results: Map<string, SectionResult>;
  readonly errors: Record<string, string>;
  readonly durations: Record<string, number>;
}

/** Runs the chosen sections one after another, each given what the earlier ones found. */
async function runSections(args: SuiteArgs, runtime: NodeRuntime): Promise<SectionsRun> {
  const results = new Map<string, SectionResult>();
  const errors: Record<string, string> = {};
  const durations: Record<string, number> = {};
  for (const section of SECTIONS) {
    if (args.only !== undefined && !args.only.has(section.name)) continue;
    if (!existsSync(join(ROOT, section.script))) continue;
    process.stderr.write(`\n== ${section.name} (${section.script}) ==\n`);
    const sectionArgs = [...(section.args?.(results) ?? []), ...(args.quick ? ['--quick'] : []), ...args.sectionExtra];
    const began = performance.now();
    try {
      const { code, stdout } = await runSection(section.script, sectionArgs, runtime);
      const parsed = section.name === 'verify-cost' ? parseVerifyCosts(stdout) : parseResult(stdout);
      if (parsed === undefined) {
        errors[section.name] = `no BENCH_RESULT line (exit code ${code})`;
      } else {
        results.set(section.name, { ...parsed, section: section.name });
        if (code !== 0) errors[section.name] = `exit code ${code}`;
      }
    } catch (error) {
      errors[section.name] = error instanceof Error ? error.message : String(error);
    }
    durations[section.name] = Math.round((performance.now() - began) / 100) / 10;
  }
  return { results, errors, durations };
}

/** The machine the suite ran on, with its load at the end (the load generator shares it). */
function machineNow() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

type SuiteReport = ReturnType<typeof suiteReport>;

/** The JSON report: when, on what, from which commit, and every section's result. */
function suiteReport(
  startedAt: Date,
  finishedAt: Date,
  quick: boolean,
  runtime: NodeRuntime,
  notes: string[],
  run: SectionsRun,
) {
  const machine = machineNow();
  const seconds = (finishedAt.getTime() - startedAt.getTime()) / 1000;
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    quick,
    runtime,
    commit: git(['rev-parse', 'HEAD']),
    // Earlier results (which this run rewrites) do not make the measured code differ from the commit.
    uncommittedChanges: git(['status', '--porcelain', '--', '.', ':(exclude)bench/results']) !== '',
    machine,
    notes,
    durationsSeconds: run.durations,
    errors: run.errors,
    targets: judgeTargets(run.results, seconds, quick),
    sections: Object.fromEntries(run.results),
  };
}

/** The Markdown summary: a header with the run's circumstances, then each section's tables and targets. */
function suiteMarkdown(report: SuiteReport, startedAt: Date, results: ReadonlyMap<string, SectionResult>): string[] {
  const { quick, runtime, machine, notes, errors } = report;
  const md = [
    `# Benchmark results${quick ? ' (quick smoke run: the numbers mean little)' : ''}`,
    '',
    `${startedAt.toISOString()} · commit ${report.commit.slice(0, 12)}${report.uncommittedChanges ? ' (with uncommitted changes)' : ''} · ` +
      `${machine.cpus} × ${machine.cpuModel} · Node ${machine.node} · measured processes: ${runtime === 'built' ? 'compiled JavaScript' : 'tsx loader'} · ` +
      `load average at the end ${machine.loadAverageAtEnd.join(' ')}`,
    '',
    'Load generator and measured node share the machine. See docs/PERFORMANCE.md for the method.',
    ...notes.map((n) => `\n> ${n}`),
    ...Object.entries(errors).map(([name, message]) => `\n> **${name} failed**: ${message}`),
    '',
    '## Targets of issues 17 and 18',
    '',
    targetsMarkdown(report.targets),
  ];
  for (const section of SECTIONS) {
    const result = results.get(section.name);
    if (result === undefined) continue;
    md.push('', `## ${section.title}`, '');
    if (section.name === 'verify-cost') md.push(verifyCostMarkdown(result));
    else if (typeof result.markdown === 'string') md.push(result.markdown);
    else md.push('```json', JSON.stringify(result, null, 2), '```');
    const targets = result.targets;
    if (targets !== undefined) md.push('', '```json', JSON.stringify(targets, null, 2), '```');
  }
  return md;
}

/**
 * Writes the results: quick and narrowed runs to their own `*-latest` files, a full run to a dated
 * file and latest.{json,md}. Returns the name of the `latest` files written.
 */
async function writeResults(json: string, text: string, startedAt: Date, quick: boolean, partial: boolean) {
  const dir = join(ROOT, 'bench/results');
  await mkdir(dir, { recursive: true });
  if (quick || partial) {
    const name = quick ? 'quick-latest' : 'partial-latest';
    await writeFile(join(dir, `${name}.json`), json);
    await writeFile(join(dir, `${name}.md`), text);
  } else {
    const stamp = startedAt
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z');
    await writeFile(join(dir, `${stamp}.json`), json);
    await writeFile(join(dir, 'latest.json'), json);
    await writeFile(join(dir, 'latest.md'), text);
  }
  return quick ? 'quick-latest' : partial ? 'partial-latest' : 'latest';
}

async function main(): Promise<void> {
  const args = suiteArgs(process.argv.slice(2));
  const startedAt = new Date();
  const notes: string[] = [];
  const runtime = await chooseRuntime(args.quick, notes);
  const run = await runSections(args, runtime);
  const finishedAt = new Date();
  const report = suiteReport(startedAt, finishedAt, args.quick, runtime, notes, run);
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const text = `${suiteMarkdown(report, startedAt, run.results).join('\n')}\n`;
  // A run narrowed to some sections (--only) or by section arguments is not the whole suite: it must not
  // replace the latest full results.
  const partial = args.only !== undefined || args.sectionExtra.length > 0;
  const written = await writeResults(json, text, startedAt, args.quick, partial);
  process.stdout.write(`\n${text}`);
  process.stderr.write(
    `\nwrote bench/results/${written}.{json,md} in ${Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000)} s\n`,
  );
  if (Object.keys(run.errors).length > 0) process.exitCode = 1;
}

await main();
