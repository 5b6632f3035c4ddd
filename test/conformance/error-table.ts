/**
 * The error table of docs/PROTOCOL.md §11 and the codes docs/QUERY.md documents, read from the documents at
 * run time: the conformance suite checks the node against what the documents say, not against src/errors.ts.
 */
import { readFileSync } from 'node:fs';

/** What an MQTT transport does with a code (§11, MQTT column); null for `—`, a code MQTT never sends. */
type MqttColumn = 'reject' | 'retry' | 'disconnect' | null;

export interface ErrorRow {
  readonly code: string;
  readonly status: number;
  readonly mqtt: MqttColumn;
  readonly retryable: boolean;
  readonly meaning: string;
}

/** Where a code can be observed: the two ingest routes, the two MQTT transports, and the query API. */
export type Transport = 'http-single' | 'http-batch' | 'mqtt-embedded' | 'mqtt-external' | 'query';

const DOCS = new URL('../../docs/', import.meta.url);
const START = '<!-- error-table:start -->';
const END = '<!-- error-table:end -->';

function readDoc(name: string): string {
  return readFileSync(new URL(name, DOCS), 'utf8');
}

function cellsOf(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((cell) => cell.trim());
}

/** Parses the rows between the error-table markers of docs/PROTOCOL.md; throws on anything it cannot read. */
function parseErrorTable(markdown: string): ErrorRow[] {
  const start = markdown.indexOf(START);
  const end = markdown.indexOf(END);
  if (start < 0 || end < start) throw new Error(`the error table markers ${START} … ${END} are missing`);
  const lines = markdown
    .slice(start + START.length, end)
    .split('\n')
    .filter((line) => line.trim().startsWith('|'));
  const [header, rule, ...rows] = lines;
  const columns = cellsOf(header ?? '').map((name) => name.toLowerCase());
  const expected = ['code', 'http', 'mqtt', 'retry?', 'meaning'];
  if (JSON.stringify(columns) !== JSON.stringify(expected) || !/^[|\s:-]+$/.test(rule ?? '')) {
    throw new Error(`the error table's columns are ${JSON.stringify(columns)}, not ${JSON.stringify(expected)}`);
  }
  return rows.map((line) => {
    const [codeCell = '', http = '', mqtt = '', retry = '', meaning = ''] = cellsOf(line);
    const code = /^`(ERR_[A-Z_]+)`$/.exec(codeCell)?.[1];
    const status = Number(http);
    if (code === undefined || !/^\d{3}$/.test(http)) throw new Error(`unreadable error table row: ${line}`);
    if (!['reject', 'retry', 'disconnect', '—'].includes(mqtt) || !['yes', 'no'].includes(retry)) {
      throw new Error(`unreadable MQTT or retry column in: ${line}`);
    }
    return {
      code,
      status,
      mqtt: mqtt === '—' ? null : (mqtt as Exclude<MqttColumn, null>),
      retryable: retry === 'yes',
      meaning,
    };
  });
}

/** docs/PROTOCOL.md §11, as rows. */
export function readErrorTable(): ErrorRow[] {
  return parseErrorTable(readDoc('PROTOCOL.md'));
}

/**
 * Every code docs/QUERY.md names, with the status it documents beside it (`400 ERR_QUERY_INVALID`,
 * `**403 \`ERR_FORBIDDEN\`**`), or undefined where it names a code without a status.
 */
function parseQueryCodes(markdown: string): Map<string, number | undefined> {
  const codes = new Map<string, number | undefined>();
  for (const [, code] of markdown.matchAll(/\b(ERR_[A-Z_]+)\b/g)) codes.set(code as string, undefined);
  for (const [, status, code] of markdown.matchAll(/\b(\d{3})\s*`?\s*(ERR_[A-Z_]+)\b/g)) {
    codes.set(code as string, Number(status));
  }
  return codes;
}

/** docs/QUERY.md's codes. */
export function readQueryCodes(): Map<string, number | undefined> {
  return parseQueryCodes(readDoc('QUERY.md'));
}

/** A row §11 marks as the query API's alone ("(query API only)" in its meaning). */
function queryApiOnly(row: ErrorRow): boolean {
  return /\(query API only\)/i.test(row.meaning);
}

/**
 * Where the documents say a code applies: every code has an HTTP status, which the two ingest routes answer
 * with unless §11 marks it "(query API only)"; the query API answers the codes QUERY.md documents and those;
 * both MQTT transports send every code whose MQTT column is not `—`.
 */
export function transportsOf(row: ErrorRow, queryCodes: ReadonlyMap<string, unknown>): Transport[] {
  const transports: Transport[] = [];
  if (!queryApiOnly(row)) transports.push('http-single', 'http-batch');
  if (row.mqtt !== null) transports.push('mqtt-embedded', 'mqtt-external');
  if (queryApiOnly(row) || queryCodes.has(row.code)) transports.push('query');
  return transports;
}
