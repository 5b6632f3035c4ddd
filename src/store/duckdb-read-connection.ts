import type { DuckDBConnection, DuckDBInstance, DuckDBPreparedStatement, DuckDBValue } from '@duckdb/node-api';
import type { DuckDbStatement } from './duckdb-queries.js';

/**
 * Statements one read connection keeps prepared. The statements differ by shape only (the values are parameters),
 * so a few dozen cover what the query API asks; past that the least recently used is dropped (DuckDB frees it with
 * the object, or when the connection closes).
 */
const PREPARED_PER_CONNECTION = 32;

/**
 * A read connection with the statements it has prepared: a statement asked again (the next page of a question,
 * the dashboard's periodic questions) is only bound and run, not parsed, bound to the catalogue and planned
 * again, which was 0.4–0.6 ms of a 2.7–2.9 ms page of 1,000 readings (docs/STORAGE.md).
 */
export class DuckDbReadConnection {
  readonly #connection: DuckDBConnection;
  readonly #prepared = new Map<string, DuckDBPreparedStatement>();

  private constructor(connection: DuckDBConnection) {
    this.#connection = connection;
  }

  static async open(instance: DuckDBInstance): Promise<DuckDbReadConnection> {
    return new DuckDbReadConnection(await instance.connect());
  }

  /** Runs `statement` in a transaction of its own and returns its rows. */
  async rows(statement: DuckDbStatement): Promise<DuckDBValue[][]> {
    let prepared = this.#prepared.get(statement.sql);
    if (prepared === undefined) {
      prepared = await this.#connection.prepare(statement.sql);
      if (this.#prepared.size >= PREPARED_PER_CONNECTION) {
        const oldest = this.#prepared.keys().next();
        if (oldest.done !== true) this.#prepared.delete(oldest.value);
      }
    } else {
      // Moved to the end: the map's order is the order of last use.
      this.#prepared.delete(statement.sql);
    }
    this.#prepared.set(statement.sql, prepared);
    prepared.bind(statement.values, statement.types);
    return rowsOf((await prepared.runAndReadAll()).getColumns());
  }

  /** Closes the connection, and with it every statement it prepared. */
  closeSync(): void {
    this.#prepared.clear();
    this.#connection.closeSync();
  }
}

/**
 * The rows of an answer read column by column: the reader's `getRows()` took 0.67 ms for 1,000 rows of four
 * columns where `getColumns()` and this took 0.29 ms (docs/STORAGE.md).
 */
function rowsOf(columns: readonly DuckDBValue[][]): DuckDBValue[][] {
  const count = columns[0]?.length ?? 0;
  const rows: DuckDBValue[][] = new Array(count);
  for (let index = 0; index < count; index++) {
    const row: DuckDBValue[] = new Array(columns.length);
    for (let column = 0; column < columns.length; column++)
      row[column] = (columns[column] as DuckDBValue[])[index] as DuckDBValue;
    rows[index] = row;
  }
  return rows;
}
