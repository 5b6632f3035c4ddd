import { join } from 'node:path';
import {
  QueryApiError,
  QueryApiSource,
  type ReadingsSource,
  type RunReport,
  type VerificationReport,
  verifyRun,
} from '../../simulator/index.js';
import { parseConfig } from '../../src/config/parse-config.js';
import type { CommandIo } from '../command.js';
import type { SubcommandArgs } from '../subcommand-args.js';
import { storeLockHolder } from './store-lock-holder.js';

/** Where an audit reads the store: a node's query API (--url and a token), or the store from TELEMETRY_* settings. */
export interface SourceChoice {
  readonly kind: 'query-api' | 'store';
  /** The embedded store's file, when the choice is to open it (a running node holds it locked). */
  readonly embeddedFile?: string;
  open(): Promise<{ source: ReadingsSource; close(): Promise<void> }>;
}

/** The query API when --token or TELEMETRY_TOKEN gives a token, otherwise the store the node settings name. */
export function readingsSource(args: SubcommandArgs, io: CommandIo): SourceChoice {
  const token = args.optional('token') ?? io.env.TELEMETRY_TOKEN;
  if (token !== undefined) {
    const url = args.optional('url') ?? io.env.TELEMETRY_URL ?? 'http://127.0.0.1:8080';
    return {
      kind: 'query-api',
      open: async () => ({ source: new QueryApiSource(url, token), close: async () => undefined }),
    };
  }
  // The node's own settings, without the CLI's TELEMETRY_URL and TELEMETRY_TOKEN (not node settings).
  const env = Object.fromEntries(
    Object.entries(io.env).filter(([name]) => name !== 'TELEMETRY_URL' && name !== 'TELEMETRY_TOKEN'),
  );
  const config = parseConfig(env);
  return {
    kind: 'store',
    // As openStore names it.
    ...(config.store === 'embedded' ? { embeddedFile: join(config.dataDir, 'telemetry.duckdb') } : {}),
    open: async () => {
      // The stores' clients (DuckDB, InfluxDB) are loaded only to audit one.
      const { openStore } = await import('../../src/store/open-store.js');
      const store = await openStore(config);
      return { source: store, close: () => store.close() };
    },
  };
}

/** Runs the audit; prints why and returns undefined when the store cannot be read. */
export async function verifyWith(
  choice: SourceChoice,
  report: RunReport,
  io: CommandIo,
): Promise<VerificationReport | undefined> {
  let opened: Awaited<ReturnType<SourceChoice['open']>> | undefined;
  try {
    opened = await choice.open();
    return await verifyRun(report, { source: opened.source, sourceKind: choice.kind });
  } catch (error) {
    const holder = choice.embeddedFile === undefined ? undefined : await storeLockHolder(choice.embeddedFile);
    if (holder !== undefined) {
      io.stderr(
        `telemetry simulate verify: a running node (process ${holder}) holds the embedded store ${choice.embeddedFile}, ` +
          'and DuckDB lets one process open it. Audit through that node instead: pass --url URL and --token TOKEN ' +
          '(or TELEMETRY_URL and TELEMETRY_TOKEN; telemetry keys operator-token --scope read issues one), ' +
          'or stop the node first.\n',
      );
      return undefined;
    }
    const code = error instanceof QueryApiError ? error.code : (error as { code?: unknown }).code;
    io.stderr(
      `telemetry simulate verify: cannot read the store (${typeof code === 'string' ? code : 'error'}): ${
        error instanceof Error ? error.message : String(error)
      }\n`,
    );
    return undefined;
  } finally {
    await opened?.close();
  }
}
