/**
 * The optimal-string-alignment distance between two words: insertions,
 * deletions, substitutions and swaps of two neighbours each cost one.
 */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      const row = rows[i];
      if (row !== undefined) row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The name `word` is most likely a typo of, for "did you mean …?": the closest
 * by edit distance, at most one edit away for short names and two for longer
 * ones; undefined when none is that close (or two are equally close).
 *
 * @example
 * closestName('serv', ['serve', 'keys', 'simulate', 'query']); // 'serve'
 */
export function closestName(word: string, names: readonly string[]): string | undefined {
  const typed = word.toLowerCase();
  const scored = names
    .map((name) => ({ name, distance: editDistance(typed, name.toLowerCase()) }))
    .filter(({ name, distance }) => distance <= (name.length > 4 ? 2 : 1))
    .sort((x, y) => x.distance - y.distance);
  const [best, next] = scored;
  if (best === undefined || (next !== undefined && next.distance === best.distance)) return undefined;
  return best.name;
}
