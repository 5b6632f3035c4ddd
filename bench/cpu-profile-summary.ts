/**
 * Summarises a V8 .cpuprofile (as written by `node --cpu-prof`) by self time:
 * the top functions, the top files, and the time grouped into areas.
 *
 *   npx tsx bench/cpu-profile-summary.ts <file.cpuprofile> [--top 25] [--json]
 *
 * Self time of a sample is the time delta that follows it, attributed to the
 * function on top of the stack, as Chrome DevTools' "bottom-up" view does.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The parts of the DevTools protocol's Profile type this module reads. */
export interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
    readonly columnNumber: number;
  };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

/** One row of a summary: a function, file or area, its self time and its share of the total. */
export interface SelfTimeEntry {
  readonly name: string;
  readonly selfMs: number;
  readonly percent: number;
}

/** Sorts a profile's samples into areas by the first rule whose test matches the frame. */
export interface AreaRule {
  readonly area: string;
  /** `file` is the frame's script as {@link fileOf} shortens it. */
  readonly test: (frame: { functionName: string; url: string; file: string }) => boolean;
}

export interface CpuProfileSummary {
  readonly totalMs: number;
  readonly samples: number;
  readonly functions: readonly SelfTimeEntry[];
  readonly files: readonly SelfTimeEntry[];
  readonly areas: readonly SelfTimeEntry[];
}

const root = fileURLToPath(new URL('../', import.meta.url));

/**
 * A frame's file, shortened: repository-relative (also for the benchmarks' compiled copy under
 * `node_modules/.cache/<dir>/`), `node_modules/<package>/...`, or `node:<module>`.
 */
export function fileOf(url: string): string {
  if (url === '') return '(native)';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const cached = /node_modules\/\.cache\/[^/]+\/(.*)$/.exec(path);
  if (cached?.[1] !== undefined) return cached[1];
  const inModules = path.lastIndexOf('node_modules/');
  if (inModules >= 0) return path.slice(inModules);
  if (path.startsWith(root)) return relative(root, path);
  return path;
}

const modules = (names: string) => new RegExp(`^node_modules/(${names})/`);
const HTTP_MODULES = modules(
  'fastify|@fastify/[^/]+|find-my-way|light-my-request|avvio|fast-json-stringify|secure-json-parse|content-type|toad-cache|fast-querystring|fast-uri|process-warning|@sinclair/[^/]+|ajv|fast-decode-uri-component|abstract-logging|rfdc',
);
const MQTT_MODULES = modules(
  'aedes|aedes-[^/]+|mqtt-packet|mqemitter|bl|retimer|hyperid|fastfall|fastparallel|fastseries|reusify',
);
const LOG_MODULES = modules(
  'pino|pino-[^/]+|prom-client|sonic-boom|thread-stream|tdigest|bintrees|fast-redact|quick-format-unescaped|safe-stable-stringify|atomic-sleep|on-exit-leak-free',
);

/**
 * The default areas for an ingest node: signature checks, the protocol code,
 * HTTP, MQTT, the store, logging/metrics, GC and the rest. The first rule that
 * matches wins, so the order matters (the crypto binding before node internals).
 * Native frames are classified by their nearest caller with a script.
 */
export const INGEST_AREAS: readonly AreaRule[] = [
  { area: 'gc', test: (f) => f.functionName === '(garbage collector)' },
  { area: 'idle', test: (f) => f.functionName === '(idle)' },
  { area: 'program (native, unattributed)', test: (f) => f.functionName === '(program)' },
  { area: 'node:crypto (signature checks)', test: (f) => f.file.startsWith('node:internal/crypto') },
  { area: 'node:buffer (base64, copies)', test: (f) => /^node:(internal\/)?buffer/.test(f.file) },
  { area: 'jose', test: (f) => f.file.startsWith('node_modules/jose/') },
  { area: 'protocol (src/protocol)', test: (f) => f.file.startsWith('src/protocol/') },
  { area: 'identity (src/identity)', test: (f) => f.file.startsWith('src/identity/') },
  {
    area: 'store (src/store, DuckDB)',
    test: (f) => f.file.startsWith('src/store/') || f.file.startsWith('node_modules/@duckdb/'),
  },
  {
    area: 'ingest pipeline (ingest/, src/pipeline)',
    test: (f) => f.file.startsWith('ingest/') || f.file.startsWith('src/pipeline/'),
  },
  { area: 'our other code (src/)', test: (f) => f.file.startsWith('src/') },
  {
    area: 'fastify/HTTP',
    test: (f) => HTTP_MODULES.test(f.file) || /^node:(internal\/)?_?http/.test(f.file),
  },
  { area: 'MQTT (aedes, mqtt-packet)', test: (f) => MQTT_MODULES.test(f.file) },
  { area: 'logging/metrics (pino, prom-client)', test: (f) => LOG_MODULES.test(f.file) },
  {
    area: 'node:net/streams/timers/events',
    test: (f) =>
      /^node:(internal\/)?(net|stream|streams|timers|events|event_target|stream_base_commons|process\/task_queues|async_hooks)/.test(
        f.file,
      ),
  },
  { area: 'tsx loader', test: (f) => f.file.startsWith('node_modules/tsx/') || f.file.includes('esbuild') },
];

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}

function ranked(map: Map<string, number>, totalMs: number, top: number): SelfTimeEntry[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, selfMs]) => ({ name, selfMs, percent: totalMs === 0 ? 0 : (100 * selfMs) / totalMs }));
}

/**
 * Self time per function, file and area. `exclude` drops frames (e.g. `(idle)`)
 * from the total, so percentages are of the time the process was busy.
 */
export function summarizeCpuProfile(
  profile: CpuProfile,
  options: { top?: number; areas?: readonly AreaRule[]; excludeIdle?: boolean } = {},
): CpuProfileSummary {
  const top = options.top ?? 25;
  const areas = options.areas ?? INGEST_AREAS;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; a sample stands for the time until the next one
  // (the last one, until the profile's end), as DevTools counts it.
  const lastAt = profile.startTime + deltas.reduce((sum, d) => sum + d, 0);
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    const next = i + 1 < samples.length ? (deltas[i + 1] ?? 0) : profile.endTime - lastAt;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, next));
  }
  const parentOf = new Map<number, CpuProfileNode>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
  // A native frame (a C++ binding, a builtin) is charged to the nearest caller with a script, so that
  // ECDSA inside the crypto binding counts as node:crypto, not as "native".
  const callerWithScript = (node: CpuProfileNode): CpuProfileNode | undefined => {
    let frame: CpuProfileNode | undefined = node;
    while (frame !== undefined && frame.callFrame.url === '') frame = parentOf.get(frame.id);
    return frame;
  };
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  const areaTimes = new Map<string, number>();
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const frame = node.callFrame;
    if (options.excludeIdle !== false && frame.functionName === '(idle)') continue;
    totalUs += us;
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const special = frame.functionName.startsWith('(');
    const caller = frame.url === '' && !special ? callerWithScript(node) : node;
    const file = caller === undefined ? '(native)' : fileOf(caller.callFrame.url);
    const label =
      frame.url === ''
        ? special || caller === undefined
          ? name
          : `${name} (native, from ${caller.callFrame.functionName || '(anonymous)'} ${file})`
        : `${name} ${file}${frame.lineNumber > 0 ? `:${frame.lineNumber + 1}` : ''}`;
    add(functions, label, us);
    add(files, special ? name : file, us);
    const classified = special || caller === undefined ? frame : caller.callFrame;
    const subject = { functionName: classified.functionName, url: classified.url, file: fileOf(classified.url) };
    add(areaTimes, areas.find((rule) => rule.test(subject))?.area ?? 'other', us);
  }
  const totalMs = totalUs / 1000;
  const toMs = (map: Map<string, number>) => new Map([...map].map(([k, v]) => [k, v / 1000]));
  return {
    totalMs,
    samples: samples.length,
    functions: ranked(toMs(functions), totalMs, top),
    files: ranked(toMs(files), totalMs, top),
    areas: ranked(toMs(areaTimes), totalMs, Number.POSITIVE_INFINITY),
  };
}

/** A summary as aligned text tables. */
export function formatCpuProfileSummary(summary: CpuProfileSummary, title = 'CPU profile'): string {
  const lines = [`${title}: ${summary.totalMs.toFixed(0)} ms busy, ${summary.samples} samples`];
  const table = (heading: string, entries: readonly SelfTimeEntry[]) => {
    lines.push('', `${heading}:`);
    for (const e of entries) {
      lines.push(`  ${e.percent.toFixed(1).padStart(5)}%  ${e.selfMs.toFixed(1).padStart(9)} ms  ${e.name}`);
    }
  };
  table('by area (self time)', summary.areas);
  table('top functions (self time)', summary.functions);
  table('top files (self time)', summary.files);
  return lines.join('\n');
}

/** Reads and summarises a .cpuprofile file. */
export function summarizeCpuProfileFile(
  path: string,
  options?: Parameters<typeof summarizeCpuProfile>[1],
): CpuProfileSummary {
  return summarizeCpuProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, options);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
  if (file === undefined) {
    process.stderr.write('usage: tsx bench/cpu-profile-summary.ts <file.cpuprofile> [--top N] [--json]\n');
    process.exit(2);
  }
  const topIndex = args.indexOf('--top');
  const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25;
  const summary = summarizeCpuProfileFile(file, { top });
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else process.stdout.write(`${formatCpuProfileSummary(summary, file)}\n`);
}
