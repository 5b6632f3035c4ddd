/**
 * The names in a query string that a route does not take, sorted, each once. The schema validator would drop
 * them silently (fastify's default `removeAdditional`), so a misspelt or unsupported parameter would change
 * nothing and look accepted; the query API refuses them instead.
 *
 * @example
 * ```ts
 * unknownParameters({ device: 'a', tz: 'UTC', colour: 'red' }, ['device', 'from', 'to']); // ['colour', 'tz']
 * ```
 */
export function unknownParameters(query: unknown, known: readonly string[]): string[] {
  if (typeof query !== 'object' || query === null) return [];
  const allowed = new Set(known);
  return Object.keys(query)
    .filter((name) => !allowed.has(name))
    .sort();
}
