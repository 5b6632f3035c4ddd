/** Any UTF-16 surrogate code unit, paired or not. */
const SURROGATE = /[\ud800-\udfff]/;

/**
 * The fast path of `parseStrictJson`: `JSON.parse` (native) for a document it reads exactly as the
 * I-JSON parser would, `undefined` for any other, which the caller then parses by hand (and refuses
 * with the exact reason and offset).
 *
 * `JSON.parse` alone is not enough for signed payloads: it keeps the last of duplicate member names,
 * turns numbers beyond double range into Infinity, accepts lone surrogates, and has no depth bound.
 * So a document with any backslash or surrogate is left to the hand parser; after parsing, a walk
 * counts the members the objects hold, checks every number is finite and the nesting depth. Every
 * member has one `:` and a plain document has no other place for one than inside a string, so the
 * counts match only when no name was repeated (and no string holds a colon, which is merely slower).
 *
 * @example
 * parseWellFormedJson('{"ts":1,"values":{"t":20.5}}', 8); // the object
 * parseWellFormedJson('{"a":1,"a":2}', 8); // undefined: a repeated name, left to the hand parser
 */
export function parseWellFormedJson(text: string, maxDepth: number): unknown {
  if (text.indexOf('\\') !== -1 || SURROGATE.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  let colons = 0;
  for (let p = text.indexOf(':'); p !== -1; p = text.indexOf(':', p + 1)) colons++;
  return countMembers(value, 1, maxDepth) === colons ? value : undefined;
}

/**
 * Own members of every object in `value` (at nesting `depth`), or -1 when a number is not finite or
 * arrays and objects nest deeper than `maxDepth`: the counts then never match.
 */
function countMembers(value: unknown, depth: number, maxDepth: number): number {
  if (typeof value === 'number') return Number.isFinite(value) ? 0 : -1;
  if (typeof value !== 'object' || value === null) return 0;
  if (depth > maxDepth) return -1;
  let count = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const inner = countMembers(value[i], depth + 1, maxDepth);
      if (inner < 0) return -1;
      count += inner;
    }
    return count;
  }
  for (const name in value) {
    const inner = countMembers((value as Record<string, unknown>)[name], depth + 1, maxDepth);
    if (inner < 0) return -1;
    count += inner + 1;
  }
  return count;
}
