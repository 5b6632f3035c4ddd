import { formatCsv } from '../../src/query/format-csv.js';
import type { QueryPage } from './fetch-pages.js';
import { formatTable } from './format-table.js';
import type { QueryPlan } from './query-plan.js';

/**
 * Prints the pages of a query as the plan says: an aligned table, CSV with a
 * header row (the same columns as the node's own CSV), or JSON. With several
 * pages, JSON is the first page's answer holding every item and no cursor.
 */
export function renderPages(plan: QueryPlan, pages: readonly QueryPage[]): string {
  const items = pages.flatMap((page) => page.items);
  const { endpoint } = plan;
  switch (plan.format) {
    case 'table': {
      const header = endpoint.tableHeader(plan.aggregate);
      return formatTable(header, items.map(endpoint.tableRow), endpoint.name === 'series' ? [] : [header.length - 1]);
    }
    case 'csv':
      return formatCsv(
        endpoint.columns,
        items.map((item) => endpoint.columns.map((column) => item[column] ?? '')),
      );
    case 'json': {
      const [first] = pages;
      if (pages.length === 1 && first !== undefined) return `${JSON.stringify(first.body, null, 2)}\n`;
      const { nextCursor: _, ...rest } = first?.body ?? {};
      return `${JSON.stringify({ ...rest, items }, null, 2)}\n`;
    }
  }
}
