/**
 * One load-generating process of {@link saturateHttpInProcesses} (bench/support/http-load-processes.ts): reads
 * its share of the signed messages (one a line), waits for the agreed start, drives the node with autocannon
 * and counts what was acknowledged, and its own CPU, between the agreed marks (epoch milliseconds, so that every
 * process measures the same window); prints that as one JSON line and ends.
 *
 *   node [loader] http-load-process.ts '<LoadProcessSpec as JSON>'
 */
import { readFile } from 'node:fs/promises';
import { driveHttp } from './http-load.js';
import { atWallClock } from './load-window.js';

export interface LoadProcessSpec {
  readonly httpUrl: string;
  readonly messagesFile: string;
  readonly connections: number;
  readonly startAt: number;
  readonly openAt: number;
  readonly closeAt: number;
  readonly durationS: number;
  readonly messagesPerRequest?: number;
}

/** What one load process saw within the window. */
export interface LoadProcessReport {
  readonly acknowledged: number;
  readonly failed: number;
  readonly cpuSeconds: number;
  readonly wraps: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as LoadProcessSpec;
  const messages = (await readFile(spec.messagesFile, 'utf8')).split('\n').filter((line) => line !== '');
  await atWallClock(spec.startAt);
  const drive = driveHttp({
    httpUrl: spec.httpUrl,
    messages,
    connections: spec.connections,
    durationS: spec.durationS,
    ...(spec.messagesPerRequest === undefined ? {} : { messagesPerRequest: spec.messagesPerRequest }),
  });
  await atWallClock(spec.openAt);
  const opened = { ...drive.counts(), cpu: process.cpuUsage() };
  await atWallClock(spec.closeAt);
  const closed = drive.counts();
  const cpu = process.cpuUsage(opened.cpu);
  await drive.done;
  const report: LoadProcessReport = {
    acknowledged: closed.acknowledged - opened.acknowledged,
    failed: closed.failed - opened.failed,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    wraps: drive.wraps(),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

await main();
