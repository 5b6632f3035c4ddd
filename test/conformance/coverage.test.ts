import { describe, expect, it } from 'vitest';
import { CASES, EXEMPTIONS } from './cases.js';
import { readErrorTable, readQueryCodes, type Transport, transportsOf } from './error-table.js';

const table = readErrorTable();
const queryCodes = readQueryCodes();
const rows = new Map(table.map((row) => [row.code, row]));

describe('the conformance cases against docs/PROTOCOL.md §11 and docs/QUERY.md', () => {
  it('reads a table of unique codes from docs/PROTOCOL.md', () => {
    expect(table.length).toBeGreaterThan(20);
    expect(rows.size).toBe(table.length);
  });

  it('has a case or an exemption for every code on every transport the documents name for it, never both', () => {
    const missing: string[] = [];
    const both: string[] = [];
    for (const row of table) {
      for (const transport of transportsOf(row, queryCodes)) {
        const cased = CASES.some((c) => c.code === row.code && c.transports.includes(transport));
        const exempt = EXEMPTIONS.some((e) => e.code === row.code && e.transport === transport);
        if (!cased && !exempt) missing.push(`${row.code} on ${transport}`);
        if (cased && exempt) both.push(`${row.code} on ${transport}`);
      }
    }
    expect(missing).toEqual([]);
    expect(both).toEqual([]);
  });

  it('has no case whose code is not in the table, or on a transport the table does not name for it', () => {
    const strays = CASES.flatMap((c) => {
      const row = rows.get(c.code);
      if (row === undefined) return [`${c.code} (${c.name}) is not in the table`];
      const allowed = transportsOf(row, queryCodes);
      return c.transports
        .filter((transport) => !allowed.includes(transport))
        .map((transport) => `${c.code} (${c.name}) on ${transport}`);
    });
    expect(strays).toEqual([]);
  });

  it('exempts only codes of the table, on transports it names for them, each with a reason, once', () => {
    const bad = EXEMPTIONS.filter((e) => {
      const row = rows.get(e.code);
      return row === undefined || !transportsOf(row, queryCodes).includes(e.transport) || e.reason.trim().length < 20;
    });
    expect(bad).toEqual([]);
    const keys = EXEMPTIONS.map((e) => `${e.code} ${e.transport}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('finds in docs/QUERY.md only codes of the table, each with the status the table gives it', () => {
    expect(queryCodes.size).toBeGreaterThan(0);
    const disagreeing = [...queryCodes].flatMap(([code, status]) =>
      rows.get(code)?.status === status ? [] : [`${code}: QUERY.md ${status}, table ${rows.get(code)?.status}`],
    );
    expect(disagreeing).toEqual([]);
  });

  it('runs a query case for every code docs/QUERY.md documents', () => {
    const queried = new Set(CASES.filter((c) => c.transports.includes('query')).map((c) => c.code));
    expect([...queryCodes.keys()].filter((code) => !queried.has(code))).toEqual([]);
  });

  it('gives every batch case its shape: per message or per request', () => {
    const unshaped = CASES.filter((c) => c.transports.includes('http-batch' satisfies Transport) && !c.batch);
    expect(unshaped.map((c) => c.name)).toEqual([]);
  });
});
