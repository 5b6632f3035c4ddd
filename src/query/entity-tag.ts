import { createHash } from 'node:crypto';

/**
 * A strong entity tag for a response body (RFC 9110 §8.8.3): a hash of its
 * bytes, so equal bodies get equal tags on every node.
 *
 * @example
 * ```ts
 * entityTag('{"items":[]}'); // '"…27 base64url characters…"'
 * ```
 */
export function entityTag(body: string | Uint8Array): string {
  const hash = createHash('sha256');
  if (typeof body === 'string') hash.update(body, 'utf8');
  else hash.update(body);
  return `"${hash.digest('base64url').slice(0, 27)}"`;
}

/**
 * Whether an If-None-Match header matches `etag`, so the answer is 304
 * (RFC 9110 §13.1.2): `*`, or any listed tag equal to it by weak comparison.
 */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}
